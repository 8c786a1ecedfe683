"""Shared fixtures: small generated censuses and per-test warehouses, all real (no mocks)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from census_demo import generate
from census_pipeline.lib.truth_files import truth_path_for
from tests import hostile
from tests.builders import census_cli, materialize_into

# Work units of `make test` (pytest -n 2 --dist loadgroup --no-loadscope-reorder): a test file is
# one unit, as with --dist loadfile, so a module's fixtures are made once; but the tests of a
# shared run (`built`, `cli_run` below) are one unit, so that run is made once in the session
# rather than once per worker, and a slow test may be a unit of its own (`xdist_group` mark) so
# that it runs beside the rest of its file (the Spark run in the run's process is one such, and
# makes the shared run again on its worker: 25-55 s, against ~280 s of Spark beside the other). Units
# are handed out in this order, the longest first, so that the two workers finish together; the
# rest follow in collection order. (pytest 9 ignores
# the test ids xdist's own loadgroup rewrites, so the workers hand their units to the scheduler
# below through a folder named in CENSUS_TEST_UNITS.)
LONGEST_FIRST = (  # seconds measured in one `make test` on the two cores, 2026-12-06 (the test's setup included)
    "built",  # 378: the shared materialization and the tests reading it, with the Spark engine's run through Connect (~310)
    "spark_in_process",  # 363: tests/integration/test_spark_engine.py, the Spark run in the run's process and its fixtures
    "cli_run",  # 92: one `census run`, a run killed during dbt and the run that finishes it, the UI re-executing one
    "tests/integration/test_spark_linkage.py",  # 84: a Spark session in the test's process
    "tests/coverage_survey/test_interval_coverage.py",  # 43: 20 PES replications
    "two_runs",  # 41: tests/e2e/test_cli.py, two whole `census run`s, one waiting for the other
    "tests/integration/test_interrupt.py",  # 31
    "tests/integration/test_fail_closed.py",  # 25
    "tests/integration/test_bulletin.py",  # 21
    "tests/e2e/test_ui.py",  # 21
    "tests/integration/test_dbt_in_process.py",  # 16
    "tests/integration/test_rules.py",  # 16
    "tests/integration/test_publication_safety.py",  # 16: an in-process run of a hand-written census
    "tests/integration/test_materialize.py",  # 15
    "malformed_census",  # 12: tests/integration/test_publication_safety.py, a run stopped by a gate
)
SHARED_RUNS = ("built", "cli_run")
# Fixtures that materialize a whole census (a module's own by "file::name"): the tests using one
# are marked slow, as the tests doing a run themselves are, and `make test-fast` leaves them out.
WHOLE_RUNS = {*SHARED_RUNS, "tests/integration/test_rules.py::warehouse", "tests/integration/test_linkage.py::links",
              "tests/integration/test_bulletin.py::tiny_townships",
              "tests/integration/test_publication_safety.py::published"}


def _unit(item: pytest.Item) -> str:
    return item.get_closest_marker("xdist_group").args[0]


@pytest.hookimpl(tryfirst=True)  # before -m selects by the slow mark
def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.nodeid.split("::")[0]
        if any(f in WHOLE_RUNS or f"{module}::{f}" in WHOLE_RUNS for f in item.fixturenames):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("xdist_group") is None:
            unit = next((f for f in SHARED_RUNS if f in item.fixturenames), module)
            item.add_marker(pytest.mark.xdist_group(unit))
    rank = {unit: i for i, unit in enumerate(LONGEST_FIRST)}
    first = {}
    for i, item in enumerate(items):
        first.setdefault(_unit(item), i)
    items.sort(key=lambda item: (rank.get(_unit(item), len(rank)), first[_unit(item)]))
    worker, units = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("CENSUS_TEST_UNITS")
    if worker and units:
        Path(units, f"{worker}.json").write_text(json.dumps({item.nodeid: _unit(item) for item in items}))


def pytest_configure(config):
    if not hasattr(config, "workerinput") and config.getvalue("dist") == "loadgroup":
        os.environ["CENSUS_TEST_UNITS"] = tempfile.mkdtemp(prefix="census-test-units-")  # the workers inherit it
        config.add_cleanup(lambda: shutil.rmtree(os.environ.pop("CENSUS_TEST_UNITS"), ignore_errors=True))


def pytest_xdist_make_scheduler(config, log):
    """xdist's load-scope scheduling over the units of pytest_collection_modifyitems."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        units: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.units is None:  # read once every worker has collected (and so written its units)
                self.units = {}
                for path in Path(os.environ["CENSUS_TEST_UNITS"]).glob("*.json"):
                    self.units.update(json.loads(path.read_text()))
            return self.units.get(nodeid, nodeid.split("::")[0])

    return UnitScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def _dbt_manifest():
    # imported here, not at the top: the xdist controller loads this file too and needs no
    # dagster_dbt (~3-5 s before the workers start)
    from census_pipeline.defs.dbt import prepare_manifest

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
            if not truth_path_for(out).exists():  # the truth is written last
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
    reference. Its landing zone also holds a batch and a register extract of contract-breaking
    lines with real persons' names and ID numbers in them (tests/hostile.py): quarantined, never
    repeated (test_no_identity_outside.py)."""
    folder = tmp_path_factory.mktemp("cli_run")
    landing = folder / "landing"
    gen = census_cli(["generate", "--households", "150", "--seed", "5", "--out", str(landing), "--quiet"])
    planted = hostile.plant(landing) if gen.returncode == 0 else 0  # tests/integration/test_no_identity_outside.py
    key = f"e2e-secret-{uuid.uuid4().hex}"
    env = dict(os.environ, CENSUS_LANDING_DIR=str(landing), CENSUS_WAREHOUSE=str(folder / "w.duckdb"),
               CENSUS_OUTPUT_DIR=str(folder / "out"), DAGSTER_HOME=str(folder / "dagster_home"),
               CENSUS_PSEUDONYM_KEY=key, CENSUS_LOG_LEVEL="DEBUG",
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    started = time.time() - 1
    run = census_cli(["run"], env) if gen.returncode == 0 else None
    return SimpleNamespace(folder=folder, landing=landing, key=key, env=env, started=started, gen=gen, run=run,
                           planted=planted)


def load_truth(landing: Path) -> dict:
    return json.loads(truth_path_for(landing).read_text(encoding="utf-8"))


os.environ.setdefault("CENSUS_LOG_LEVEL", "WARNING")
os.environ.setdefault("CENSUS_PSEUDONYM_KEY", "test-key-for-the-census-test-suite")
