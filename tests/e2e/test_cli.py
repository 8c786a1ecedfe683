"""The `census` command as a user runs it."""

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from census_pipeline.lib.truth_files import truth_path_for
from tests.builders import census_cli


def test_help_lists_the_commands():
    help_ = census_cli(["--help"])
    assert help_.returncode == 0, help_.stderr
    out = help_.stdout
    assert "generate" in out and "run" in out and "CENSUS_LANDING_DIR" in out


def files_holding(needles: list[bytes], folders: list[Path], since: float = 0.0) -> list[str]:
    found = []
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and path.stat().st_mtime >= since:
                data = path.read_bytes()
                found += [f"{path}: {n[:12]!r}..." for n in needles if n in data]
    return found


@pytest.mark.slow
def test_generate_then_run_through_the_three_variables(cli_run):
    from census_pipeline.dbt_plugin import hmac_pads
    from census_pipeline.lib.codes import PROJECT_ROOT

    # `census generate` then `census run`, with a key of the run's own: the session's one run (conftest.py)
    tmp_path, landing, key, gen, run = cli_run.folder, cli_run.landing, cli_run.key, cli_run.gen, cli_run.run
    assert gen.returncode == 0, gen.stderr
    assert truth_path_for(landing).exists()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "census run succeeded" in run.stdout and str(tmp_path / "w.duckdb") in run.stdout
    assert "DEVELOPMENT" not in run.stdout + run.stderr  # a key of one's own: no demo warning
    assert any((tmp_path / "dagster_home").rglob("*")), "the run is recorded in DAGSTER_HOME"
    import dagster as dg

    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        # the job the schedule and the sensor run, in its history, re-executable from the UI
        assert [(r.job_name, r.status.value) for r in instance.get_runs()] == [("census_all", "SUCCESS")]
        assert instance.get_runs()[0].tags["census/trigger"] == "census run"
    assert (tmp_path / "out/bulletin/bulletin.html").exists() and not (tmp_path / "out/bulletin/STALE.txt").exists()
    logs = list((tmp_path / "out/logs").glob("census-run-*.log"))
    assert logs, "the full log is kept"
    # a log a person reads: no progress bar redrawn in it (GX drew one per gate), no Python warning
    # (Dagster warned of how the run found its job)
    assert not [p for p in logs if b"\r" in p.read_bytes() or b"Calculating Metrics" in p.read_bytes()
                or b"Warning:" in p.read_bytes()]
    assert "Calculating Metrics" not in run.stdout + run.stderr
    # the key (and the HMAC pads derived from it) is in no file: warehouse, outputs and the run's
    # log, Dagster's event log and run config, dbt's logs and artifacts
    needles = [key.encode(), *(p.hex().encode() for p in hmac_pads(key))]
    dbt_dirs = [PROJECT_ROOT / "dbt_project" / d for d in ("target", "logs") if (PROJECT_ROOT / "dbt_project" / d).exists()]
    assert files_holding(needles, [tmp_path], 0.0) + files_holding(needles, dbt_dirs, cli_run.started) == []
    assert key not in run.stdout + run.stderr
    again = census_cli(["generate", "--households", "10", "--out", str(landing), "--quiet"])
    assert again.returncode == 2 and "not empty" in again.stderr


def test_run_fails_clearly_without_a_landing_zone(tmp_path):
    env = dict(os.environ, CENSUS_LANDING_DIR=str(tmp_path / "nowhere"), CENSUS_WAREHOUSE=str(tmp_path / "w.duckdb"),
               CENSUS_OUTPUT_DIR=str(tmp_path / "out"), CENSUS_LOG_LEVEL="ERROR",
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    env.pop("DAGSTER_HOME", None)
    run = census_cli(["run", "--select", "raw/listing_frame"], env)
    assert run.returncode == 2
    assert run.stdout == "" and run.stderr.count("\n") == 1 and "CENSUS_LANDING_DIR" in run.stderr
    assert not (tmp_path / "w.duckdb").exists() and not (tmp_path / "out").exists()  # no run started


@pytest.mark.parametrize(("engine", "says"), [("spark", "needs Java 17"), ("postgres", "duckdb, spark")])
def test_run_refuses_an_engine_it_cannot_run_on(tmp_path, engine, says):
    """An engine the run does not know, or Spark where no Java is found, is refused before anything
    starts (not quietly run on DuckDB)."""
    (tmp_path / "landing").mkdir()
    env = dict(os.environ, CENSUS_LANDING_DIR=str(tmp_path / "landing"), CENSUS_WAREHOUSE=str(tmp_path / "w.duckdb"),
               CENSUS_OUTPUT_DIR=str(tmp_path / "out"), CENSUS_ENGINE=engine, CENSUS_LOG_LEVEL="ERROR",
               PATH=str(Path(sys.executable).parent))  # the venv's tools only: no java on it
    for name in ("DAGSTER_HOME", "JAVA_HOME"):
        env.pop(name, None)
    run = census_cli(["run"], env)
    assert run.returncode == 2
    assert run.stdout == "" and run.stderr.count("\n") == 1 and says in run.stderr and "CENSUS_ENGINE" in run.stderr
    assert not (tmp_path / "w.duckdb").exists() and not (tmp_path / "out").exists()  # no run started


def test_a_failing_step_is_one_line_with_its_cause_and_the_trace_goes_to_the_log(tmp_path):
    landing = tmp_path / "landing"
    (landing / "frame").mkdir(parents=True)
    (landing / "frame" / "listing.csv").write_bytes(b"\x00\x01 not a listing frame")
    env = dict(os.environ, CENSUS_LANDING_DIR=str(landing), CENSUS_WAREHOUSE=str(tmp_path / "w.duckdb"),
               CENSUS_OUTPUT_DIR=str(tmp_path / "out"),
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    env.pop("DAGSTER_HOME", None)
    # the warehouse path is a folder: DuckDB cannot open it, whatever the data
    (tmp_path / "w.duckdb").mkdir()
    run = census_cli(["run", "--select", "raw/listing_frame"], env)
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    failed = [line for line in run.stdout.splitlines() if line.strip().startswith("FAILED step")]
    assert len(failed) == 1 and "raw__listing_frame" in failed[0], out
    assert "Traceback" not in out and "Stack Trace" not in out and len(out.splitlines()) < 30, out
    log = Path(next(line.split("full log:", 1)[1].strip() for line in run.stdout.splitlines() if "full log:" in line))
    assert log.parent == tmp_path / "out" / "logs" and "Stack Trace" in log.read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.xdist_group("two_runs")  # two whole runs one after the other: beside the rest of this file
def test_two_runs_started_together_both_finish_one_waits(generated, tmp_path):
    landing, _ = generated(150, 5)
    env = dict(os.environ, CENSUS_LANDING_DIR=str(landing), CENSUS_WAREHOUSE=str(tmp_path / "w.duckdb"),
               CENSUS_OUTPUT_DIR=str(tmp_path / "out"), CENSUS_LOG_LEVEL="INFO",
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    for name in ("DAGSTER_HOME", "CENSUS_PSEUDONYM_KEY", "CENSUS_DEMO"):
        env.pop(name, None)
    # the generated demo, with the demo flag: the public development key, announced
    # both outputs read as they come (a run whose output nobody reads stops at a full pipe, holding
    # the lock the other waits for), each run under a deadline
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: census_cli(["run", "--demo"], env, timeout=600), range(2)))
    outputs = [r.stdout + r.stderr for r in runs]
    assert [r.returncode for r in runs] == [0, 0], [o[-2000:] for o in outputs]
    assert sum("waiting for the run that is writing" in o for o in outputs) == 1
    assert all("DEMO RUN with the built-in DEVELOPMENT pseudonym key" in o for o in outputs)
    logs = list((tmp_path / "out" / "logs").glob("census-run-*.log"))
    assert len(logs) == 2 and all("USING THE BUILT-IN DEVELOPMENT PSEUDONYM KEY" in p.read_text(encoding="utf-8")
                                  for p in logs)
    import duckdb

    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("select count(*) from raw.ingest_files").fetchone()[0] == \
        con.execute("select count(distinct source_file) from raw.ingest_files").fetchone()[0]
    unbalanced = con.execute("select count(*) from quality.ingest_ledger "
                             "where lines_received <> lines_ingested + lines_quarantined").fetchone()[0]
    assert unbalanced == 0
