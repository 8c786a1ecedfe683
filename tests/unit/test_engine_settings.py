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
    s = engine_settings({"CENSUS_ENGINE": "spark", "CENSUS_SPARK_REMOTE": " sc://driver.example:15002/;use_ssl=true "},
                        tmp_path / "w.duckdb")
    assert s.spark_remote == "sc://driver.example:15002/;use_ssl=true"
    assert s.spark_where == "Spark Connect sc://driver.example:15002/;use_ssl=true"
    assert engine_settings({"CENSUS_ENGINE": "spark"}, tmp_path / "w.duckdb").spark_where == "Spark local[2]"
    # a token from the environment: pyspark then reaches the host over TLS; localhost may be plain
    for env in ({"SPARK_CONNECT_AUTHENTICATE_TOKEN": "t0ken", "CENSUS_SPARK_REMOTE": "sc://driver.example:15002"},
                {"CENSUS_SPARK_REMOTE": "sc://localhost:15002"}):
        assert engine_settings(env, tmp_path / "w.duckdb").spark_remote == env["CENSUS_SPARK_REMOTE"]


@pytest.mark.parametrize(("url", "why"), [
    ("driver:15002", "not a Spark Connect URL"), ("spark://driver:7077", "not a Spark Connect URL"),
    ("SC://driver:15002", "not a Spark Connect URL"), ("sc://[::1]:15002", "not a Spark Connect URL"),
    ("sc://driver:15002/path", "not a Spark Connect URL"),
    ("sc://driver:15002/;token=abc", "never in the URL"), ("SC://driver:15002/;use_ssl=true;TOKEN=abc", "never in the URL"),
    ("grpc://driver/;token=abc", "never in the URL"), ("sc://driver:15002/;x-api-key=abc", "never in the URL"),
    ("sc://localhost:15002/?token=abc", "never in the URL"), ("sc://localhost:15002#token=abc", "never in the URL"),
    ("sc://localhost:15002;token=abc", "never in the URL"), ("sc://user:abc@driver:15002", "never in the URL"),
    # what pyspark would read as no TLS: a name it takes as written, a space, a later value
    ("sc://driver/;USE_SSL=TRUE", "never in the URL"), ("sc://driver/; use_ssl=true", "never in the URL"),
    ("sc://driver/;use_ssl= true", "in clear"), ("sc://driver/;use_ssl=true;use_ssl=false", "in clear"),
    ("sc://driver:15002/;user_id=a?use_ssl=true", "never in the URL"),
    ("sc://driver.example:15002", "in clear"), ("sc://127.0.0.1:15002", "write localhost")])
def test_a_remote_that_is_no_connect_url_holds_a_secret_or_is_in_clear_is_refused(url, why):
    with pytest.raises(ValueError, match=why) as refused:
        engine_settings({"CENSUS_ENGINE": "spark", "CENSUS_SPARK_REMOTE": url}, Path("w.duckdb"))
    assert "abc" not in str(refused.value)  # the refusal does not repeat the secret


def test_the_local_connect_server_will_not_start_without_a_token(tmp_path, monkeypatch, capsys):
    from census_pipeline import spark_connect

    monkeypatch.delenv("SPARK_CONNECT_AUTHENTICATE_TOKEN", raising=False)
    assert spark_connect.main(["--dir", str(tmp_path / "server")]) == 2
    assert "SPARK_CONNECT_AUTHENTICATE_TOKEN" in capsys.readouterr().err
    assert not (tmp_path / "server").exists()  # refused before anything is made
