"""A `census run` killed with SIGKILL leaves nothing behind: no process, no run stuck STARTED, no
different bulletin. bench/fault_injection.py does the same at many more kill points."""

import os
import subprocess
import sys

import pytest

from tests.builders import fault_injection as fi


@pytest.mark.slow
def test_a_run_killed_during_dbt_then_rerun_publishes_the_same_bulletin(cli_run, tmp_path):
    # the reference: the session's undisturbed `census run` of a small census (150 households,
    # tests/conftest.py); the killed run and the last one run over the same landing zone with the
    # same key. The reference is a `census run` too: the shared in-process materialization differs
    # from a CLI run in one long-form cell (lf_employment), killed or not, which is not what this tests
    assert cli_run.run is not None and cli_run.run.returncode == 0, "the reference run failed: see test_cli.py"
    reference = fi.bulletin_csvs(cli_run.folder / "out")
    assert len(reference) >= 8, "the undisturbed run published its bulletin"
    env = fi.census_env(cli_run.landing, tmp_path / "killed", CENSUS_PSEUDONYM_KEY=cli_run.key)

    during_dbt = fi.kill_at(env, fi.dbt_holds_warehouse("--exclude path:"))  # the microdata build writing
    # dbt runs in the run's own process (defs/dbt_in_process.py): the kill took it, no dbt process
    # was left to hold DuckDB's lock
    assert not any(" build " in c for c in during_dbt["children"]), during_dbt
    assert during_dbt["survivors"] == {}, during_dbt  # Dagster's log tails died with it
    # one kill point here (the one that used to wedge: a dbt child holding DuckDB's lock); the
    # other stages' kill points are bench/fault_injection.py's (a kill "after N steps" races
    # with steps that take a second on a re-run, so it does not belong in the suite)

    out = fi.finish(env)  # no "Conflicting lock": nothing of the killed run holds the warehouse
    assert "census run succeeded" in out and out.count("lost its process") == 1, out
    statuses = sorted(fi.run_statuses(tmp_path / "killed" / "dagster_home").values())
    assert statuses == ["FAILURE", "SUCCESS"], statuses
    assert fi.differing(reference, fi.bulletin_csvs(tmp_path / "killed" / "out")) == []


HANGING_RUN = """
import time, dagster as dg

@dg.op
def wait_for_ever():
    time.sleep(600)

dg.GraphDefinition(name="hangs", node_defs=[wait_for_ever]).to_job().execute_in_process(
    instance=dg.DagsterInstance.get())
"""


@pytest.mark.slow  # a Dagster run in a process of its own, killed: ~3 s idle, ~15 s on a busy machine
def test_a_run_whose_process_died_is_marked_failed_and_a_live_one_is_not(tmp_path, monkeypatch):
    import signal
    import time

    import dagster as dg

    from census_pipeline.defs.automation.dead_runs import fail_dead_runs
    from census_pipeline.defs.automation.sensors import landing_zone_sensor

    home = tmp_path / "dagster_home"
    home.mkdir()
    # the instance's SQLite storage is created here, before the other process opens it: two
    # processes creating the same fresh storage at once race ("table ... already exists")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs()
    proc = subprocess.Popen([sys.executable, "-c", HANGING_RUN], env={**os.environ, "DAGSTER_HOME": str(home)})
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            deadline = time.monotonic() + 60
            while not instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
                assert time.monotonic() < deadline and proc.poll() is None, "the run never started"
                time.sleep(0.2)
            assert fail_dead_runs(instance) == []  # alive: left alone
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            assert instance.get_runs()[0].status == dg.DagsterRunStatus.STARTED  # what the kill leaves
            monkeypatch.setenv("CENSUS_LANDING_DIR", str(tmp_path / "nowhere"))
            landing_zone_sensor(dg.build_sensor_context(instance=instance))  # the daemon's tick finds it
            run = instance.get_runs()[0]
            assert run.status == dg.DagsterRunStatus.FAILURE
            assert "pid" in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].message
    finally:
        proc.kill()
