"""Shared fixtures: small generated censuses and per-test warehouses, all real (no mocks)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from census_pipeline.defs.microdata.project import prepare_manifest
from census_pipeline.lib.generator import generate

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "samples" / "landing-sample"
if not SAMPLE.exists():  # CI lays shared/ beside the clone
    SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "landing-sample"


@pytest.fixture(scope="session", autouse=True)
def _dbt_manifest():
    prepare_manifest()


@pytest.fixture(scope="session")
def small_census(tmp_path_factory) -> tuple[Path, dict]:
    """A generated landing zone of 1,500 households and its truth."""
    out = tmp_path_factory.mktemp("census") / "landing"
    truth = generate(out, households=1500, seed=11)
    return out, truth


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


def load_truth(landing: Path) -> dict:
    return json.loads(Path(str(landing) + ".truth.json").read_text(encoding="utf-8"))


os.environ.setdefault("CENSUS_LOG_LEVEL", "WARNING")
os.environ.setdefault("CENSUS_PSEUDONYM_KEY", "test-key-for-the-census-test-suite")
