"""The raw zone as Parquet (issue 14): every row, partitioned by county where a table has one,
DuckDB-only types written as what they hold, and an empty table still has its schema."""

import duckdb

from census_pipeline.lib.raw_zone import export_raw_zone, raw_tables


def test_export_partitions_by_county_and_keeps_every_row(tmp_path):
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute("""create table raw.household_submissions as
                   select * from (values ('s1', '330102', '"x"'::json, 3::ubigint), ('s2', '330102', null, 0::ubigint),
                                         ('s3', '330106', '{"a": 1}'::json, 1::ubigint))
                   as t(submission_id, county_code, device_id, death_line_count)""")
    con.execute("create table raw.listing_frame (household_id varchar, ea_code varchar)")
    con.execute("insert into raw.listing_frame values ('H1', '330102001001001')")
    con.execute("create table raw.pes_submissions as select * from raw.household_submissions where false")
    assert raw_tables(con) == ["household_submissions", "listing_frame", "pes_submissions"]

    rows = export_raw_zone(con, tmp_path / "raw", raw_tables(con))

    assert rows == {"household_submissions": 3, "listing_frame": 1, "pes_submissions": 0}
    subs = tmp_path / "raw" / "household_submissions"
    assert sorted(p.name for p in subs.iterdir()) == ["county_code=330102", "county_code=330106"]
    back = con.sql(f"select * from read_parquet('{subs}/*/*.parquet', hive_partitioning = true, "
                   "hive_types_autocast = false) order by submission_id")
    assert dict(zip(back.columns, map(str, back.types), strict=True))["device_id"] == "VARCHAR"
    assert dict(zip(back.columns, map(str, back.types), strict=True))["death_line_count"] == "BIGINT"
    assert [(r[0], r[1], r[2]) for r in back.select("submission_id, device_id, county_code").fetchall()] == [
        ("s1", '"x"', "330102"), ("s2", None, "330102"), ("s3", '{"a": 1}', "330106")]
    empty = con.sql(f"select * from read_parquet('{tmp_path}/raw/pes_submissions/*.parquet')")
    assert "county_code" in empty.columns and empty.fetchall() == []
    assert export_raw_zone(con, tmp_path / "raw", ["listing_frame"]) == {"listing_frame": 1}  # replaced, not added
    assert con.sql(f"select count(*) from read_parquet('{tmp_path}/raw/listing_frame/*.parquet')").fetchall() == [(1,)]
