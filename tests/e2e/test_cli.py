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
