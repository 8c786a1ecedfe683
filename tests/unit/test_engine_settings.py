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


def test_a_spark_connect_server_from_the_environment(tmp_path):
    s = engine_settings({"CENSUS_ENGINE": "spark", "CENSUS_SPARK_REMOTE": " sc://driver.example:15002 "},
                        tmp_path / "w.duckdb")
    assert s.spark_remote == "sc://driver.example:15002"
    assert s.spark_where == "Spark Connect sc://driver.example:15002"
    assert engine_settings({"CENSUS_ENGINE": "spark"}, tmp_path / "w.duckdb").spark_where == "Spark local[2]"


@pytest.mark.parametrize("url", ["driver:15002", "spark://driver:7077", "sc://driver:15002/;token=abc",
                                 "sc://driver:15002/;use_ssl=true;TOKEN=abc"])
def test_a_remote_that_is_no_connect_url_or_holds_a_token_is_refused(url):
    with pytest.raises(ValueError, match="Spark Connect URL|SPARK_CONNECT_AUTHENTICATE_TOKEN") as refused:
        engine_settings({"CENSUS_ENGINE": "spark", "CENSUS_SPARK_REMOTE": url}, Path("w.duckdb"))
    assert "abc" not in str(refused.value)  # the refusal does not repeat the secret


def test_the_local_connect_server_will_not_start_without_a_token(tmp_path, monkeypatch, capsys):
    from census_pipeline import spark_connect

    monkeypatch.delenv("SPARK_CONNECT_AUTHENTICATE_TOKEN", raising=False)
    assert spark_connect.main(["--dir", str(tmp_path / "server")]) == 2
    assert "SPARK_CONNECT_AUTHENTICATE_TOKEN" in capsys.readouterr().err
    assert not (tmp_path / "server").exists()  # refused before anything is made
