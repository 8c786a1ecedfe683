"""Shared fixtures: small generated censuses and per-test warehouses, all real (no mocks)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from census_pipeline.defs.microdata.project import prepare_manifest
from census_pipeline.lib.generator import generate

CENSUS = str(Path(sys.executable).with_name("census"))
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "samples" / "landing-sample"
if not SAMPLE.exists():  # CI lays shared/ beside the clone
    SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "landing-sample"


@pytest.fixture(scope="session", autouse=True)
def _dbt_manifest():
    prepare_manifest()


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """`generated(households, seed)`: a landing zone of `census generate --households .. --seed ..`
    and its truth, written once per test session and shared by the xdist workers (a run reads its
    landing zone and never writes to it; a test that adds files copies it first)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the workers' common folder of this session

    def landing(households: int, seed: int) -> tuple[Path, dict]:
        folder = shared / f"census-{households}-{seed}"
        out = folder / "landing"
        with open(shared / f".census-{households}-{seed}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one worker writes it, the other waits for it
            if not Path(str(out) + ".truth.json").exists():  # the truth is written last
                shutil.rmtree(folder, ignore_errors=True)
                generate(out, households=households, seed=seed)
        return out, load_truth(out)

    return landing


@pytest.fixture(scope="session")
def small_census(generated) -> tuple[Path, dict]:
    """A generated landing zone of 1,500 households and its truth."""
    return generated(1500, 11)


@pytest.fixture()
def locations(tmp_path, monkeypatch):
    """Point the three location variables at a fresh warehouse and output folder."""
    def point(landing: Path) -> dict[str, str]:
        env = {"CENSUS_LANDING_DIR": str(landing), "CENSUS_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
               "CENSUS_OUTPUT_DIR": str(tmp_path / "output")}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
        return env
    return point


def materialize_into(landing: Path, folder: Path):
    """One real materialization of every asset and check over `landing`, into a fresh warehouse
    and output folder under `folder`; returns (result, read-only connection)."""
    env = {"CENSUS_LANDING_DIR": str(landing), "CENSUS_WAREHOUSE": str(folder / "w.duckdb"),
           "CENSUS_OUTPUT_DIR": str(folder / "out")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        from census_pipeline.runner import materialize_census

        result = materialize_census()
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return result, duckdb.connect(env["CENSUS_WAREHOUSE"], read_only=True)


@pytest.fixture(scope="session")
def built(small_census, tmp_path_factory):
    """One real materialization of every asset over the small generated census (shared)."""
    landing, truth = small_census
    result, con = materialize_into(landing, tmp_path_factory.mktemp("microdata"))
    yield result, con, truth
    con.close()


@pytest.fixture(scope="session")
def cli_run(tmp_path_factory):
    """`census generate` then `census run` of a 150-household census, as a user types them, with a
    secret key of the run's own (distinctive: found anywhere only if leaked) and DAGSTER_HOME set:
    one undisturbed run that tests/e2e/test_cli.py checks and test_crash_recovery.py takes as its
    reference."""
    folder = tmp_path_factory.mktemp("cli_run")
    landing = folder / "landing"
    gen = subprocess.run([CENSUS, "generate", "--households", "150", "--seed", "5", "--out", str(landing), "--quiet"],
                         capture_output=True, text=True)
    key = f"e2e-secret-{uuid.uuid4().hex}"
    env = dict(os.environ, CENSUS_LANDING_DIR=str(landing), CENSUS_WAREHOUSE=str(folder / "w.duckdb"),
               CENSUS_OUTPUT_DIR=str(folder / "out"), DAGSTER_HOME=str(folder / "dagster_home"),
               CENSUS_PSEUDONYM_KEY=key, CENSUS_LOG_LEVEL="DEBUG",
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    started = time.time() - 1
    run = subprocess.run([CENSUS, "run"], capture_output=True, text=True, env=env) if gen.returncode == 0 else None
    return SimpleNamespace(folder=folder, landing=landing, key=key, env=env, started=started, gen=gen, run=run)


def load_truth(landing: Path) -> dict:
    return json.loads(Path(str(landing) + ".truth.json").read_text(encoding="utf-8"))


os.environ.setdefault("CENSUS_LOG_LEVEL", "WARNING")
os.environ.setdefault("CENSUS_PSEUDONYM_KEY", "test-key-for-the-census-test-suite")
