"""Fail closed: no secret key, no run; an empty census publishes nothing; errors a person can act on.

The CLI runs as a user runs it (a subprocess, real Dagster, dbt and DuckDB).
"""

import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from census_pipeline.dbt_plugin import DEV_KEY
from tests.builders import CENSUS, census_cli

TRIGGERS = ("Traceback", "Stack Trace", 'File "')


def env_for(tmp_path, landing, **extra) -> dict:
    env = dict(os.environ, CENSUS_LANDING_DIR=str(landing), CENSUS_WAREHOUSE=str(tmp_path / "w.duckdb"),
               CENSUS_OUTPUT_DIR=str(tmp_path / "out"), DAGSTER_HOME=str(tmp_path / "dagster_home"),
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    for k in ("CENSUS_PSEUDONYM_KEY", "CENSUS_DEMO"):
        env.pop(k, None)
    env.update(extra)
    return env


def run(args, env):
    return census_cli(args, env, timeout=900)


def nothing_started(tmp_path):
    return not (tmp_path / "w.duckdb").exists() and not (tmp_path / "dagster_home").exists() \
        and not (tmp_path / "out").exists()


def not_a_demo(tmp_path) -> Path:
    landing = tmp_path / "landing"
    (landing / "uploads").mkdir(parents=True)
    return landing


def test_no_key_on_real_data_refuses_to_start(tmp_path):
    r = run(["run"], env_for(tmp_path, not_a_demo(tmp_path)))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "set CENSUS_PSEUDONYM_KEY" in r.stderr, r.stderr
    assert r.stdout == ""
    assert nothing_started(tmp_path)


def test_the_demo_flag_does_not_open_real_data_to_the_public_key(tmp_path):
    landing = not_a_demo(tmp_path)
    for args, extra in ((["run", "--demo"], {}), (["run"], {"CENSUS_DEMO": "1"}),
                        (["run"], {"CENSUS_PSEUDONYM_KEY": DEV_KEY})):
        r = run(args, env_for(tmp_path, landing, **extra))
        assert r.returncode == 2, (args, extra, r.stderr)
        assert r.stderr.count("\n") == 1 and "CENSUS_PSEUDONYM_KEY" in r.stderr and DEV_KEY not in r.stderr
    assert nothing_started(tmp_path)


def test_dbt_refuses_the_public_key_outside_the_demo(monkeypatch):
    """dbt may be started by the UI or a schedule, not only by `census run`: its plugin checks too."""
    from census_pipeline.dbt_plugin import Plugin

    plugin = Plugin.__new__(Plugin)
    monkeypatch.delenv("CENSUS_DEMO", raising=False)
    for key in ("", DEV_KEY):
        monkeypatch.setenv("CENSUS_PSEUDONYM_KEY", key)
        with pytest.raises(RuntimeError, match="CENSUS_PSEUDONYM_KEY"):
            plugin.initialize({})
    monkeypatch.setenv("CENSUS_DEMO", "1")
    plugin.initialize({})  # the demo may, and says so in the run's log (resources/secrets.py)


def test_missing_landing_zone_is_one_line_and_no_run(tmp_path):
    r = run(["run"], env_for(tmp_path, tmp_path / "nowhere", CENSUS_PSEUDONYM_KEY="k"))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "nowhere" in r.stderr and "CENSUS_LANDING_DIR" in r.stderr
    assert nothing_started(tmp_path)


@pytest.mark.slow
def test_an_empty_census_publishes_nothing_and_marks_the_last_bulletin_stale(tmp_path):
    landing = tmp_path / "empty"
    for sub in ("frame", "uploads", "admin"):
        (landing / sub).mkdir(parents=True)
    previous = tmp_path / "out" / "bulletin"  # what an earlier run published
    previous.mkdir(parents=True)
    (previous / "b1_population.csv").write_text("region_code,region_name,population\n330100,杭州市,12\n")
    r = run(["run"], env_for(tmp_path, landing, CENSUS_PSEUDONYM_KEY="a-secret-for-the-empty-census",
                             CENSUS_LOG_LEVEL="INFO"))
    out = r.stdout + r.stderr
    assert r.returncode == 1, out[-3000:]
    # one line per failure, naming the check and the cause; no stack trace on the terminal
    assert "failed blocking check microdata/persons:resident_population_is_not_zero: the resident population is 0" \
        in r.stdout, out[-3000:]
    assert not any(t in out for t in TRIGGERS), out[-3000:]
    assert len(out.splitlines()) < 60, out
    # the full log is where the run says it is
    log = next(line.split("full log:", 1)[1].strip() for line in r.stdout.splitlines() if "full log:" in line)
    assert Path(log).is_file() and Path(log).parent == tmp_path / "out" / "logs"
    assert "resident_population_is_not_zero" in Path(log).read_text(encoding="utf-8")
    # nothing published: the previous bulletin is as it was, and says it is stale
    assert sorted(p.name for p in previous.iterdir()) == ["STALE.txt", "b1_population.csv"]
    assert previous.joinpath("b1_population.csv").read_text().endswith(",12\n")
    stale = previous.joinpath("STALE.txt").read_text()
    run_id = Path(log).stem.removeprefix("census-run-")
    assert run_id in stale and "resident_population_is_not_zero" in stale
    assert not list((tmp_path / "out").glob(".bulletin.*"))


@pytest.mark.slow
def test_a_run_halted_before_publishing_marks_the_last_bulletin_stale(tmp_path):
    import signal

    landing = tmp_path / "empty"
    (landing / "uploads").mkdir(parents=True)
    previous = tmp_path / "out" / "bulletin"
    previous.mkdir(parents=True)
    (previous / "b1_population.csv").write_text("old\n")
    proc = subprocess.Popen([CENSUS, "run"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env_for(tmp_path, landing, CENSUS_PSEUDONYM_KEY="k", CENSUS_LOG_LEVEL="INFO"),
                            start_new_session=True)
    # a run that never says it ingested, or never ends, is ended with all it started (its output
    # then ends too, and so does the reading below)
    deadline = threading.Timer(300, lambda: os.killpg(proc.pid, signal.SIGKILL))
    deadline.start()
    lines = []
    try:
        for line in proc.stdout:  # halt it once ingestion is done and dbt is building
            lines.append(line)
            if "ok      upload_batches" in line:
                proc.send_signal(signal.SIGINT)
                break
        lines += proc.stdout.readlines()
        proc.wait(timeout=300)
    finally:
        deadline.cancel()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # only what this run started
        proc.wait()
    out = "".join(lines)
    assert proc.returncode != 0, out
    assert "interrupted" in out and "Traceback" not in out, out
    assert previous.joinpath("b1_population.csv").read_text() == "old\n"
    stale = previous.joinpath("STALE.txt").read_text()
    assert "interrupted" in stale and "failed run: " in stale


def test_a_failed_run_from_the_ui_or_a_schedule_marks_the_bulletin_stale(tmp_path, monkeypatch):
    """The run-failure sensor does for runs started by Dagster what `census run` does for its own."""
    import dagster as dg

    from census_pipeline.defs.automation.sensors import bulletin_marked_stale_after_a_failed_run
    from census_pipeline.resources import OutputDir
    from census_pipeline.runner import materialize_census

    landing = not_a_demo(tmp_path)
    (tmp_path / "w.duckdb").mkdir()  # the warehouse cannot be opened: the first step fails
    for k, v in env_for(tmp_path, landing, CENSUS_PSEUDONYM_KEY="k").items():
        if k.startswith("CENSUS_"):
            monkeypatch.setenv(k, v)
    previous = tmp_path / "out" / "bulletin"
    previous.mkdir(parents=True)
    (previous / "b1_population.csv").write_text("old\n")
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize_census(instance, selection="raw/listing_frame")
        assert not result.success
        failure = next(e.dagster_event for e in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE))
        context = dg.build_run_status_sensor_context(
            sensor_name="bulletin_marked_stale_after_a_failed_run", dagster_event=failure, dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),
            resources={"output": OutputDir(path=str(tmp_path / "out"))}).for_run_failure()
        bulletin_marked_stale_after_a_failed_run(context)
    stale = (previous / "STALE.txt").read_text()
    assert result.run_id in stale and (previous / "b1_population.csv").read_text() == "old\n"
