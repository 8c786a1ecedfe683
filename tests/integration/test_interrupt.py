"""Ctrl-C during `census run` stops it cleanly: exit 130, one line saying what to do, no stack trace,
the run failed in the instance (not left STARTED), no child left behind, and a rerun finishes.

Ctrl-C in a terminal sends SIGINT to the whole foreground process group (dbt included), so the test
starts the run in a session of its own and signals the group. Background processes on this machine
start with SIGINT ignored: `env --default-signal` gives the run the defaults, as a terminal would.
"""

import os
import signal
import subprocess
import threading
import time

import pytest

from census_pipeline.cli import INTERRUPTED
from tests.builders import fault_injection as fi  # start, watch and finish runs


@pytest.mark.slow
def test_ctrl_c_during_the_microdata_build_exits_130_and_a_rerun_finishes(generated, tmp_path):
    landing, _ = generated(150, 5)
    env = fi.census_env(landing, tmp_path)
    proc = subprocess.Popen(["env", "--default-signal=INT,TERM", fi.CENSUS, "run", "--demo"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    run = fi.Run(proc, env, time.time(), [])
    err: list[str] = []
    readers = [threading.Thread(target=lambda: run.lines.extend(proc.stdout), daemon=True),
               threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)]
    for t in readers:
        t.start()
    try:
        ready = fi.dbt_holds_warehouse()  # ingestion written, dbt building: the run is well under way
        deadline = time.monotonic() + 120
        while not ready.ready(run):
            assert proc.poll() is None, "".join(run.lines + err)[-3000:]
            assert time.monotonic() < deadline, "the microdata build never started"
            time.sleep(0.2)
        children = fi.descendants(proc.pid)
        signalled = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        proc.wait(timeout=60)
        stopped_after = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    for t in readers:
        t.join(timeout=5)
    out, stderr = "".join(run.lines), "".join(err)

    assert proc.returncode == 130, out[-3000:] + stderr[-3000:]
    # dbt, inside the run's process, stopped: not the 25 s dagster-dbt waits for a dbt that goes on
    assert stopped_after < 15, f"{stopped_after:.1f} s from Ctrl-C to the end of the run"
    assert INTERRUPTED in stderr, stderr
    assert [line for line in stderr.splitlines() if not line.startswith("census: DEMO RUN")] == [
        next(line for line in stderr.splitlines() if INTERRUPTED in line)], stderr  # one line, nothing else
    assert not any(t in out + stderr for t in ("Traceback", 'File "')), out + stderr
    assert "census run FAILED" not in out  # no failure summary: it was stopped, not broken
    assert fi.survivors(children) == {}  # dbt and Dagster's helpers went with it
    assert list(fi.run_statuses(tmp_path / "dagster_home").values()) == ["FAILURE"]  # not left STARTED

    rerun = fi.finish(env)
    assert "census run succeeded" in rerun and "lost its process" not in rerun, rerun[-3000:]
    assert sorted(fi.run_statuses(tmp_path / "dagster_home").values()) == ["FAILURE", "SUCCESS"]
    assert (tmp_path / "out" / "bulletin" / "bulletin.html").exists()
