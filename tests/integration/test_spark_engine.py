"""The Spark engine (issue 14): every dbt model, the three Python models (pypinyin, Splink's
SparkAPI) among them, built on dbt-spark over the raw zone of the shared DuckDB run written as
Parquet, gives the same tables cell by cell and the same published CSV bytes as DuckDB did.

One Spark run (`python -m census_pipeline.spark_dbt`, a process of its own that stops its session
and JVM when it ends) with a run directory, metastore and warehouse of the test's own. Java comes
from Debian when missing (CI)."""

import os
import re
import sys
import time
from decimal import Decimal

import duckdb
import pytest

from census_pipeline.defs.publication.assets import PUBLISHED_TABLES
from census_pipeline.lib.engine import engine_settings
from census_pipeline.lib.safe_cells import copy_csv
from census_pipeline.spark_dbt import attach_spark_tables
from tests.builders import bulletin_folder, debian_tool, run_with_deadline, warehouse_path

# the published tables and the chart's, the microdata marts (pseudonym HMAC, ID check), the edits
# and donor imputation, where the engines' SQL differs most; the quality tables (the scorecard's
# late-submission instant, progress's days on Shanghai's clocks), the register comparisons and
# their matching, the resolved duplicates and the survey's census side; the three Python models
# (pinyin keys; Splink's links, match probabilities and weights compared exactly, as every other
# double) and what rests on them: linkage's keys and residues, the register links and their marts,
# follow-up, the survey's matches and estimates
COMPARED = [("microdata", "persons"), ("microdata", "households"), ("intermediate", "int_person_edit_items"),
            *(("bulletin", name) for name in [*PUBLISHED_TABLES, "chart_age_pyramid"]),
            *(("quality", name) for name in ["coverage", "enumerator_scorecard", "progress"]),
            ("linkage", "births_comparison"), ("linkage", "deaths_comparison"),
            *(("intermediate", name) for name in ["int_registrants_matched", "int_duplicates_resolved", "int_pes_census"]),
            *(("intermediate", name) for name in [
                "int_name_pinyin", "int_linkage_register", "int_linkage_census", "int_linkage_id_links",
                "int_linkage_register_residue", "int_linkage_census_residue", "int_linkage_probabilistic",
                "int_register_links", "int_pes_persons", "int_pes_id_matches", "int_pes_persons_residue",
                "int_pes_probabilistic"]),
            *(("linkage", name) for name in ["hukou_coverage", "linkage_quality"]),
            ("linkage_audit", "register_links"),
            *(("quality", name) for name in ["follow_up", "pes_matches", "pes_estimates"])]
# DuckDB sums integers into a HUGEINT, Spark into a BIGINT or DECIMAL(p,0): an integer either way,
# written alike (the CSVs below); every other type must be the same
INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}


def _kind(duckdb_type) -> str:
    name = str(duckdb_type)
    return "an integer" if name in INTEGER_TYPES or re.fullmatch(r"DECIMAL\(\d+,0\)", name) else name


def _value(v):
    return int(v) if isinstance(v, Decimal) and v == v.to_integral_value() and v.as_tuple().exponent == 0 else v


@pytest.fixture(scope="module")
def spark_run(built, tmp_path_factory):
    debian_tool("java", "openjdk-17-jre-headless")
    warehouse = warehouse_path(built[1])
    env = dict(os.environ, CENSUS_WAREHOUSE=str(warehouse), CENSUS_ENGINE="spark",
               CENSUS_SPARK_DIR=str(tmp_path_factory.mktemp("spark")), CENSUS_SPARK_MASTER="local[2]")
    started = time.monotonic()
    run = run_with_deadline([sys.executable, "-m", "census_pipeline.spark_dbt"], env, timeout=600)
    seconds = time.monotonic() - started
    print(f"Spark build of every model: {seconds:.0f} s")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    spark = duckdb.connect()
    attached = attach_spark_tables(spark, engine_settings(env, warehouse))
    yield spark, attached
    spark.close()


def _rows(con, relation: str) -> list[tuple]:
    return sorted((tuple(map(_value, r)) for r in con.execute(f"select * from {relation}").fetchall()), key=repr)


@pytest.mark.parametrize(("schema", "table"), COMPARED, ids=[t for _, t in COMPARED])
def test_spark_table_equals_duckdb_cell_by_cell(built, spark_run, schema, table):
    _, duck, _ = built
    spark, attached = spark_run
    assert f"{schema}.{table}" in attached, f"Spark built no {schema}.{table}"
    want, got = duck.sql(f"select * from {schema}.{table}"), spark.sql(f"select * from {schema}.{table}")
    assert got.columns == want.columns
    assert [_kind(t) for t in got.types] == [_kind(t) for t in want.types]
    want_rows, got_rows = _rows(duck, f"{schema}.{table}"), _rows(spark, f"{schema}.{table}")
    assert want_rows, f"{schema}.{table} is empty: nothing compared"
    assert len(got_rows) == len(want_rows)
    for w, g in zip(want_rows, got_rows, strict=True):
        assert g == w


def test_spark_bulletin_csvs_are_byte_identical(built, spark_run, tmp_path):
    """The publication's own CSV writer over Spark's tables writes the bytes DuckDB's run published."""
    spark, _ = spark_run
    for name in PUBLISHED_TABLES:
        copy_csv(spark, f"bulletin.{name}", tmp_path / f"{name}.csv", order_by=["region_code"], bom=True)
        assert (tmp_path / f"{name}.csv").read_bytes() == (bulletin_folder(built) / f"{name}.csv").read_bytes(), name
