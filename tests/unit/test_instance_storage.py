"""The event log a new DAGSTER_HOME gets (census_pipeline/instance.py) keeps its SQLite connections
open, and what it stores is Dagster's own history: another instance reading the same files with
Dagster's default storage sees every event, and a run's events written from two threads all land."""

import threading
import time

import dagster as dg
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from census_pipeline.instance import KEPT_OPEN, KeptOpenSqliteEventLogStorage
from census_pipeline.runner import ensure_instance_config


def _entry(run_id: str, i: int) -> EventLogEntry:
    return EventLogEntry(error_info=None, level=20, user_message=f"message {i}", run_id=run_id,
                         timestamp=time.time(), step_key=None, job_name="census_all", dagster_event=None)


def test_a_new_home_stores_events_through_kept_connections_in_the_default_layout(tmp_path):
    home = tmp_path / "dagster_home"
    ensure_instance_config(str(home))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, KeptOpenSqliteEventLogStorage)
        threads = [threading.Thread(target=lambda k=k: [storage.store_event(_entry("run-a", 100 * k + i))
                                                        for i in range(50)]) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        storage.store_event(_entry("run-b", 0))
        assert len(instance.all_logs("run-a")) == 100
        assert set(storage._engines) >= {"run-a", "run-b"}  # one engine per database, kept
        for i in range(2 * KEPT_OPEN):  # a UI reading many runs keeps only the last few open
            storage.store_event(_entry(f"run-{i}", 0))
        assert len(storage._engines) == KEPT_OPEN and f"run-{2 * KEPT_OPEN - 1}" in storage._engines
        assert len(instance.all_logs("run-a")) == 100  # reopened when used again
    assert (home / "history" / "runs" / "run-a.db").exists()

    # Dagster's default storage over the same folder reads the same history
    default = SqliteEventLogStorage(str(home / "history" / "runs"))
    assert sorted(e.user_message for e in default.get_logs_for_run("run-a")) == sorted(
        f"message {100 * k + i}" for k in range(2) for i in range(50))
    default.dispose()


def test_events_are_stored_after_a_wipe(tmp_path):
    storage = KeptOpenSqliteEventLogStorage(str(tmp_path / "runs"))
    storage.store_event(_entry("run-a", 0))
    storage.wipe()  # closes the kept engines: the run databases are deleted
    storage.store_event(_entry("run-a", 1))
    assert [e.user_message for e in storage.get_logs_for_run("run-a")] == ["message 1"]
    storage.dispose()


def test_a_home_with_its_own_dagster_yaml_is_left_as_it_is(tmp_path):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    ensure_instance_config(str(tmp_path))
    assert (tmp_path / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"


KILLED_WRITER = """
import os, signal, sys, time
from census_pipeline.instance import KeptOpenSqliteEventLogStorage
from tests.unit.test_instance_storage import _entry

storage = KeptOpenSqliteEventLogStorage(sys.argv[1])
for i in range(200):
    storage.store_event(_entry("run-k", i))
os.kill(os.getpid(), signal.SIGKILL)  # no dispose, no checkpoint: the process dies with its connections open
"""


def test_every_stored_event_survives_a_kill_of_the_process(tmp_path):
    """Commits wait for the disk only at checkpoints (synchronous = normal, WAL): a run killed right
    after storing events has lost none of them. (A kill keeps what the kernel holds, whatever the
    setting: what this guards is that an event is committed when it is stored, not held back in
    the process; the setting itself is the pragma asserted below. Only a power cut could lose the
    last commits, which synchronous = normal accepts.)"""
    import subprocess
    import sys

    from census_pipeline.lib.codes import PROJECT_ROOT

    runs = tmp_path / "runs"
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(runs)], cwd=PROJECT_ROOT, timeout=120,
                            capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    storage = KeptOpenSqliteEventLogStorage(str(runs))
    with storage._connect("run-k") as conn:
        assert conn.exec_driver_sql("pragma journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("pragma synchronous").scalar() == 1  # normal
    assert sorted(e.user_message for e in storage.get_logs_for_run("run-k")) == sorted(f"message {i}" for i in range(200))
    storage.dispose()
