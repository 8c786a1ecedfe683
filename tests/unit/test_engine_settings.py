"""CENSUS_ENGINE and the Spark locations (issue 14): DuckDB unless told otherwise."""

from pathlib import Path

import pytest

from census_pipeline.lib.engine import engine_settings


def test_duckdb_is_the_default_and_spark_lives_beside_the_warehouse(tmp_path):
    s = engine_settings({}, tmp_path / "w.duckdb")
    assert (s.engine, s.spark_master) == ("duckdb", "local[2]")
    assert s.spark_dir == tmp_path / "w.duckdb.spark"
    assert (s.raw_zone, s.spark_warehouse, s.metastore) == (s.spark_dir / "raw", s.spark_dir / "warehouse",
                                                            s.spark_dir / "metastore_db")


def test_spark_from_the_environment(tmp_path):
    s = engine_settings({"CENSUS_ENGINE": " Spark ", "CENSUS_SPARK_MASTER": "spark://10.0.0.5:7077",
                         "CENSUS_SPARK_DIR": str(tmp_path / "run")}, "ignored.duckdb")
    assert (s.engine, s.spark_master, s.spark_dir) == ("spark", "spark://10.0.0.5:7077", tmp_path / "run")


def test_an_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="duckdb, spark"):
        engine_settings({"CENSUS_ENGINE": "postgres"}, Path("w.duckdb"))
