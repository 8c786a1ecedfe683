"""The raw zone as Parquet (issue 14): every row, in folders by county and upload day (a line in
its submission's), DuckDB-only types written as what they hold, an empty table still with its
schema; brought up to date partition by partition, and whole again after an export was killed."""

from datetime import date, timedelta
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from census_pipeline.lib import raw_zone
from census_pipeline.lib.raw_zone import MANIFEST, export_raw_zone, raw_tables


def _census(con) -> None:
    con.execute("create schema raw")
    con.execute("""create table raw.household_submissions as
                   select * from (values ('s1', '330102', date '2020-11-01', '"x"'::json, 3::ubigint),
                                         ('s2', '330102', null, null, 0::ubigint),
                                         ('s3', '330106', date '2020-11-02', '{"a": 1}'::json, 1::ubigint))
                   as t(submission_id, county_code, upload_date, device_id, death_line_count)""")
    con.execute("""create table raw.person_lines as
                   select * from (values ('s1', 1, 'Li'), ('s1', 2, 'Wang'), ('s3', 1, 'Zhao'))
                   as t(submission_id, person_index, name)""")
    con.execute("create table raw.listing_frame (household_id varchar, ea_code varchar)")
    con.execute("insert into raw.listing_frame values ('H1', '330102001001001')")
    con.execute("create table raw.pes_submissions as select * from raw.household_submissions where false")


def _read(con, folder: Path) -> list[tuple]:
    return sorted(con.execute(f"select * from read_parquet('{folder}/**/*.parquet', hive_partitioning = false)")
                  .fetchall(), key=repr)


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.rglob("*.parquet")}


def test_export_lays_tables_out_by_county_and_upload_day_with_every_row(tmp_path):
    con = duckdb.connect()
    _census(con)
    assert raw_tables(con) == ["household_submissions", "listing_frame", "person_lines", "pes_submissions"]

    done = export_raw_zone(con, tmp_path / "raw", raw_tables(con))

    assert done.rows == {"household_submissions": 3, "listing_frame": 1, "person_lines": 3, "pes_submissions": 0}
    subs = tmp_path / "raw" / "household_submissions"
    assert sorted(str(p.parent.relative_to(subs)) for p in subs.rglob("data_*.parquet")) == [
        "county_code=330102/upload_date=2020-11-01", "county_code=330102/upload_date=__HIVE_DEFAULT_PARTITION__",
        "county_code=330106/upload_date=2020-11-02"]
    back = con.sql(f"select * from read_parquet('{subs}/**/*.parquet', hive_partitioning = false)")
    types = dict(zip(back.columns, map(str, back.types), strict=True))
    assert types == {"submission_id": "VARCHAR", "county_code": "VARCHAR", "upload_date": "DATE",
                     "device_id": "VARCHAR", "death_line_count": "BIGINT"}  # in the files, typed
    assert _read(con, subs) == sorted([("s1", "330102", date(2020, 11, 1), '"x"', 3), ("s2", "330102", None, None, 0),
                                       ("s3", "330106", date(2020, 11, 2), '{"a": 1}', 1)], key=repr)
    lines = tmp_path / "raw" / "person_lines"  # in their submission's folders, with their own columns only
    assert {str(p.parent.relative_to(lines)) for p in lines.rglob("data_*.parquet")} == {
        "county_code=330102/upload_date=2020-11-01", "county_code=330106/upload_date=2020-11-02"}
    assert _read(con, lines) == sorted([("s1", 1, "Li"), ("s1", 2, "Wang"), ("s3", 1, "Zhao")], key=repr)
    empty = con.sql(f"select * from read_parquet('{tmp_path}/raw/pes_submissions/**/*.parquet')")
    assert "county_code" in empty.columns and empty.fetchall() == []
    assert _read(con, tmp_path / "raw" / "listing_frame") == [("H1", "330102001001001")]


def test_a_new_upload_day_rewrites_its_folders_only_and_a_county_gone_is_removed(tmp_path):
    con = duckdb.connect()
    _census(con)
    folder = tmp_path / "raw"
    export_raw_zone(con, folder, raw_tables(con))
    before = _files(folder)

    again = export_raw_zone(con, folder, raw_tables(con))
    assert (again.written, again.removed) == (0, 0) and _files(folder) == before  # nothing changed, nothing written

    con.execute("insert into raw.household_submissions values ('s4', '330106', date '2020-11-03', null, 0)")
    con.execute("insert into raw.person_lines values ('s4', 1, 'Sun')")
    day = export_raw_zone(con, folder, raw_tables(con))
    assert day.written == 2  # the new day's folder of the submissions and of their lines
    after = _files(folder)
    assert {k: v for k, v in after.items() if k in before} == before  # every other file untouched
    assert sorted(set(after) - set(before)) == [
        "household_submissions/county_code=330106/upload_date=2020-11-03/data_0.parquet",
        "person_lines/county_code=330106/upload_date=2020-11-03/data_0.parquet"]
    assert ("s4", 1, "Sun") in _read(con, folder / "person_lines")

    con.execute("delete from raw.person_lines where submission_id in ('s3', 's4')")
    con.execute("delete from raw.household_submissions where county_code = '330106'")
    gone = export_raw_zone(con, folder, raw_tables(con))
    assert gone.removed == 4 and not (folder / "household_submissions" / "county_code=330106").exists()
    assert _read(con, folder / "person_lines") == sorted([("s1", 1, "Li"), ("s1", 2, "Wang")], key=repr)


def test_an_older_layout_or_another_schema_is_written_whole(tmp_path):
    con = duckdb.connect()
    _census(con)
    folder = tmp_path / "raw"
    (folder / "household_submissions" / "county_code=330102").mkdir(parents=True)  # layout 1: no manifest
    (folder / "household_submissions" / "county_code=330102" / "data_0.parquet").write_bytes(b"old")
    export_raw_zone(con, folder, ["household_submissions"])
    assert not (folder / "household_submissions" / "county_code=330102" / "data_0.parquet").exists()
    con.execute("alter table raw.household_submissions add column h_rooms bigint")
    assert export_raw_zone(con, folder, ["household_submissions"]).written == 3
    assert len(_read(con, folder / "household_submissions")[0]) == 6


# ------------------------------------------------------------------ property: any history, any crash

# county codes are digits in a census; these also hold what DuckDB percent-encodes in a folder name
COUNTIES = ("330102", "3301 06", "33/0=1%")
submission = st.tuples(st.integers(0, 40), st.sampled_from(COUNTIES),
                       st.one_of(st.none(), st.integers(0, 4).map(lambda d: date(2020, 11, 1) + timedelta(days=d))),
                       st.text(alphabet="ab'\"/=", max_size=3))
# deliveries, withdrawals, whether the submissions' columns change (a layout change: written whole),
# the file operation (a move or a removal) an export is killed at, and whether it is retried at once
step = st.tuples(st.lists(submission, max_size=6), st.lists(st.integers(0, 40), max_size=4), st.booleans(),
                 st.one_of(st.none(), st.integers(1, 12)), st.booleans())


class Killed(Exception):
    pass


def _export_killed_at(con, folder: Path, tables: list[str], kill_at: int) -> None:
    """An export killed at its kill_at-th file operation: before a move into place, or halfway
    through a removal (one of the folder's files gone, the rest still there)."""
    real_move, real_remove, calls = raw_zone._move, raw_zone._remove, [0]

    def dying(real, partly):
        def op(*args):
            calls[0] += 1
            if calls[0] == kill_at:
                if partly:
                    for f in sorted(Path(args[0]).rglob("*.parquet"))[:1]:
                        f.unlink()
                raise Killed
            real(*args)
        return op

    raw_zone._move, raw_zone._remove = dying(real_move, False), dying(real_remove, True)
    try:
        export_raw_zone(con, folder, tables)
    except Killed:
        pass
    finally:
        raw_zone._move, raw_zone._remove = real_move, real_remove


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=6))
def test_after_any_history_of_deliveries_and_killed_exports_the_zone_is_the_warehouse(tmp_path_factory, steps):
    """Submissions (and their lines) arrive, are replaced or withdrawn, the submissions' columns
    change and change back; some exports are killed at their n-th file operation and left so until
    after the next deliveries. After every export that finishes, the raw zone holds exactly the
    warehouse's rows: nothing lost, nothing twice, nothing stale."""
    folder = tmp_path_factory.mktemp("zone") / "raw"
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute("create table raw.household_submissions (submission_id varchar, county_code varchar, "
                "upload_date date, address varchar)")
    con.execute("create table raw.person_lines (submission_id varchar, person_index bigint, name varchar)")
    tables = ["household_submissions", "person_lines"]
    extra = False
    for arrivals, withdrawn, toggle, kill_at, retry in steps:
        for n, county, day, text in arrivals:
            sid = f"s{n}"
            con.execute("delete from raw.household_submissions where submission_id = ?", [sid])
            con.execute("delete from raw.person_lines where submission_id = ?", [sid])
            con.execute(f"insert into raw.household_submissions values (?, ?, ?, ?{', null' if extra else ''})",
                        [sid, county, day, text])
            con.execute("insert into raw.person_lines values (?, 1, ?), (?, 2, ?)", [sid, text, sid, text + "2"])
        for n in withdrawn:
            con.execute("delete from raw.household_submissions where submission_id = ?", [f"s{n}"])
        if toggle:
            extra = not extra
            con.execute("alter table raw.household_submissions " +
                        ("add column h_rooms bigint" if extra else "drop column h_rooms"))
        if kill_at is not None:
            _export_killed_at(con, folder, tables, kill_at)
            if not retry:
                continue  # the zone stays as the killed export left it until the next deliveries
        export_raw_zone(con, folder, tables)
        for table in tables:
            want = sorted(con.execute(f"select * from raw.{table}").fetchall(), key=repr)
            assert _read(con, folder / table) == want, table
            assert (folder / table / MANIFEST).exists()
        assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_a_killed_export_then_the_old_rows_again_is_still_exact(tmp_path):
    """The case a kept manifest would get wrong: an export is killed after replacing a partition,
    the warehouse goes back to what the manifest describes, and the next export must not trust it."""
    con = duckdb.connect()
    _census(con)
    folder = tmp_path / "raw"
    export_raw_zone(con, folder, ["household_submissions"])
    con.execute("update raw.household_submissions set device_id = '\"changed\"'")
    _export_killed_at(con, folder, ["household_submissions"], 3)  # one partition replaced, the next removed
    con.execute("""update raw.household_submissions set device_id = case submission_id when 's1' then '"x"'
                   when 's3' then '{"a": 1}' end""")
    export_raw_zone(con, folder, ["household_submissions"])
    assert [r[3] for r in _read(con, folder / "household_submissions")] == ['"x"', None, '{"a": 1}']


def test_a_layout_change_killed_halfway_then_undone_is_still_exact(tmp_path):
    """Columns change (the table is written whole: its folder removed first), the export is killed
    halfway through that removal, and the columns change back: the old manifest must not vouch for
    the folders the removal took."""
    con = duckdb.connect()
    _census(con)
    folder = tmp_path / "raw"
    export_raw_zone(con, folder, ["household_submissions"])
    con.execute("alter table raw.household_submissions add column h_rooms bigint")
    _export_killed_at(con, folder, ["household_submissions"], 1)
    con.execute("alter table raw.household_submissions drop column h_rooms")
    export_raw_zone(con, folder, ["household_submissions"])
    assert len(_read(con, folder / "household_submissions")) == 3


def test_a_kill_mid_export_leaves_no_manifest_so_the_next_writes_whole(tmp_path):
    con = duckdb.connect()
    _census(con)
    folder = tmp_path / "raw"
    export_raw_zone(con, folder, ["household_submissions"])
    con.execute("update raw.household_submissions set device_id = null")
    _export_killed_at(con, folder, ["household_submissions"], 1)  # halfway through the first partition's removal
    assert not (folder / "household_submissions" / MANIFEST).exists()
    assert export_raw_zone(con, folder, ["household_submissions"]).written == 3
    assert [r[3] for r in _read(con, folder / "household_submissions")] == [None, None, None]
