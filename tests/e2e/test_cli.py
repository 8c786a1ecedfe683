"""The `census` command as a user runs it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

CENSUS = str(Path(sys.executable).with_name("census"))


def test_help_lists_the_commands():
    out = subprocess.run([CENSUS, "--help"], capture_output=True, text=True, check=True).stdout
    assert "generate" in out and "run" in out and "CENSUS_LANDING_DIR" in out


@pytest.mark.slow
def test_generate_then_run_through_the_three_variables(tmp_path):
    landing = tmp_path / "landing"
    gen = subprocess.run([CENSUS, "generate", "--households", "300", "--seed", "4", "--out", str(landing), "--quiet"],
                         capture_output=True, text=True)
    assert gen.returncode == 0, gen.stderr
    assert Path(str(landing) + ".truth.json").exists()
    env = dict(os.environ, CENSUS_LANDING_DIR=str(landing), CENSUS_WAREHOUSE=str(tmp_path / "w.duckdb"),
               CENSUS_OUTPUT_DIR=str(tmp_path / "out"), DAGSTER_HOME=str(tmp_path / "dagster_home"),
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    run = subprocess.run([CENSUS, "run"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "census run succeeded" in run.stdout and str(tmp_path / "w.duckdb") in run.stdout
    assert any((tmp_path / "dagster_home").rglob("*")), "the run is recorded in DAGSTER_HOME"
    again = subprocess.run([CENSUS, "generate", "--households", "10", "--out", str(landing), "--quiet"],
                           capture_output=True, text=True)
    assert again.returncode == 2 and "not empty" in again.stderr


def test_run_fails_clearly_without_a_landing_zone(tmp_path):
    env = dict(os.environ, CENSUS_LANDING_DIR=str(tmp_path / "nowhere"), CENSUS_WAREHOUSE=str(tmp_path / "w.duckdb"),
               CENSUS_OUTPUT_DIR=str(tmp_path / "out"), CENSUS_LOG_LEVEL="ERROR",
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    env.pop("DAGSTER_HOME", None)
    run = subprocess.run([CENSUS, "run", "--select", "raw/listing_frame"], capture_output=True, text=True, env=env)
    assert run.returncode == 1
    assert "FAILED" in run.stdout


@pytest.mark.slow
def test_two_runs_started_together_both_finish_one_waits(tmp_path):
    landing = tmp_path / "landing"
    subprocess.run([CENSUS, "generate", "--households", "150", "--seed", "5", "--out", str(landing), "--quiet"],
                   check=True, capture_output=True)
    env = dict(os.environ, CENSUS_LANDING_DIR=str(landing), CENSUS_WAREHOUSE=str(tmp_path / "w.duckdb"),
               CENSUS_OUTPUT_DIR=str(tmp_path / "out"), CENSUS_LOG_LEVEL="WARNING",
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    env.pop("DAGSTER_HOME", None)
    runs = [subprocess.Popen([CENSUS, "run"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            for _ in range(2)]
    outputs = [r.communicate(timeout=600)[0] for r in runs]
    assert [r.returncode for r in runs] == [0, 0], [o[-2000:] for o in outputs]
    assert sum("waiting for the run that is writing" in o for o in outputs) == 1
    import duckdb

    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("select count(*) from raw.ingest_files").fetchone()[0] == \
        con.execute("select count(distinct source_file) from raw.ingest_files").fetchone()[0]
    unbalanced = con.execute("select count(*) from quality.ingest_ledger "
                             "where lines_received <> lines_ingested + lines_quarantined").fetchone()[0]
    assert unbalanced == 0
