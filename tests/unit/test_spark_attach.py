"""The tables a Spark build made become views in the DuckDB warehouse over their Parquet files
(spark_dbt.attach_spark_tables, ADR 0012), whatever the warehouse held under those names: a DuckDB
table from an earlier DuckDB run, or the views of an earlier Spark run (the nightly run on Spark,
its second night). A DuckDB build after a Spark run drops those views among what it builds
(detach_spark_tables): dbt-duckdb does not seed over a view. Real DuckDB, real Parquet files laid
out as Spark's warehouse lays them out."""

import duckdb

from census_pipeline.spark_dbt import attach_spark_tables, detach_spark_tables


def _spark_table(warehouse, schema: str, table: str, values: list[int]) -> None:
    """A table as Spark's warehouse holds it: <schema>.db/<table>/part-*.parquet."""
    folder = warehouse / f"{schema}.db" / table
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    rows = ", ".join(f"({v})" for v in values)
    duckdb.execute(f"copy (select * from (values {rows}) t(persons)) to '{folder}/part-00000.parquet' (format parquet)")


def test_views_replace_a_duckdb_run_s_tables_and_then_a_spark_run_s_views(tmp_path):
    spark = tmp_path / "spark_warehouse"
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        # an earlier DuckDB run's table of the same name, and one Spark did not build
        con.execute("create schema bulletin")
        con.execute("create table bulletin.b1_population as select 1 as persons")
        con.execute("create table bulletin.b2_sex as select 2 as persons")

        _spark_table(spark, "bulletin", "b1_population", [10, 20])
        assert attach_spark_tables(con, spark, {("bulletin", "b1_population")}) == ["bulletin.b1_population"]
        assert con.execute("select sum(persons) from bulletin.b1_population").fetchall() == [(30,)]

        # the next night's Spark run: the same name is now a view; it gives way to the new one
        _spark_table(spark, "bulletin", "b1_population", [10, 20, 40])
        assert attach_spark_tables(con, spark, {("bulletin", "b1_population")}) == ["bulletin.b1_population"]
        assert con.execute("select sum(persons) from bulletin.b1_population").fetchall() == [(70,)]

        kinds = dict(con.execute("select table_name, table_type from information_schema.tables "
                                 "where table_schema = 'bulletin'").fetchall())
        assert kinds == {"b1_population": "VIEW", "b2_sex": "BASE TABLE"}  # what Spark did not build is left


def test_a_duckdb_build_drops_the_spark_views_it_rebuilds_and_only_those(tmp_path):
    spark = tmp_path / "spark_warehouse"
    for schema, table in (("codes", "regions"), ("bulletin", "b1_population"), ("bulletin", "b2_sex")):
        _spark_table(spark, schema, table, [1])
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        attach_spark_tables(con, spark, {("codes", "regions"), ("bulletin", "b1_population"), ("bulletin", "b2_sex")})
        con.execute("create schema staging")
        con.execute("create view staging.stg_regions as select * from codes.regions")  # dbt's own view on DuckDB

        # the microdata build: the seed and dbt's staging view, not the bulletin's tables
        dropped = detach_spark_tables(con, {("codes", "regions"), ("staging", "stg_regions")})

        assert dropped == ["codes.regions"]
        views = {r[0] for r in con.execute("select schema_name || '.' || view_name from duckdb_views() "
                                           "where not internal").fetchall()}
        assert views == {"staging.stg_regions", "bulletin.b1_population", "bulletin.b2_sex"}
        con.execute("create table codes.regions as select 1 as code")  # where dbt-duckdb seeds
        assert detach_spark_tables(con, {("codes", "regions")}) == []  # a table is never dropped


def test_the_standalone_spark_runner_clears_where_a_census_run_s_builds_clear():
    """`python -m census_pipeline.spark_dbt` removes a stopped build's unfinished writes
    (clear_orphan_locations) among every seed and model of the project: the relations a census
    run's two builds make between them, each clearing its own before it builds (defs/dbt.build)."""
    from census_pipeline.definitions import defs
    from census_pipeline.spark_dbt import project_manifest, project_relations

    made = {tuple(p.lower() for p in spec.key.path) for spec in defs.resolve_all_asset_specs()
            if str(spec.metadata.get("dagster_dbt/unique_id", "")).startswith(("seed.", "model."))}
    relations = project_relations(project_manifest())
    assert relations == made
    assert {("intermediate", "int_persons_edited"), ("microdata", "persons"), ("bulletin", "b1_population"),
            ("codes", "edit_rules")} <= relations
