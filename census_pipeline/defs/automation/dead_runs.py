"""Runs whose process died without a word (SIGKILL, out of memory, a reset machine) are marked failed.

Such a run stays STARTED in the instance for ever: the UI shows it running, and the run queue
(`max_concurrent_runs: 1`, docs/adr/0001) counts it, so a queued run never launches. `census run`
and the landing-zone sensor look for them before anything else and report each one failed.

A run's process is the one that wrote its RUN_START event (every event records its pid). It is
alive while a process with that pid exists and started no later than the run did (a pid reused by
a later process is not the run's). Runs of one instance execute on this machine: the project
launches them in process (`census run`) or with the default run launcher (UI, schedule, sensor).
A run still STARTING has no RUN_START yet and is left alone: its worker may be loading.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import dagster as dg

IN_PROGRESS = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


@dataclass(frozen=True)
class DeadRun:
    run_id: str
    job_name: str
    pid: int
    started_at: float


def _boot_time() -> float:
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            if line.startswith("btime "):
                return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def process_started_at(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), or None when there is no such live
    process (gone, or a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
    if fields[0] in ("Z", "X"):
        return None
    return _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def run_process_alive(pid: int, run_started_at: float) -> bool:
    started = process_started_at(pid)
    # /proc's boot time is whole seconds: allow one second either way
    return started is not None and started <= run_started_at + 1.0


def dead_runs(instance: dg.DagsterInstance) -> list[DeadRun]:
    """Runs the instance holds in progress whose process no longer exists."""
    dead = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS)):
        starts = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)
        if not starts or starts[0].dagster_event is None or starts[0].dagster_event.pid is None:
            continue
        pid, at = starts[0].dagster_event.pid, starts[0].timestamp
        if not run_process_alive(pid, at):
            dead.append(DeadRun(run.run_id, run.job_name, pid, at))
    return dead


def fail_dead_runs(instance: dg.DagsterInstance) -> list[DeadRun]:
    """Report every dead run failed (its steps stay as they were); return them."""
    found = dead_runs(instance)
    for d in found:
        run = instance.get_run_by_id(d.run_id)
        if run is None or run.status not in IN_PROGRESS:
            continue  # finished meanwhile
        instance.report_run_failed(
            run, message=f"The run's process (pid {d.pid}) is gone: it was killed or its machine stopped before "
                         "the run ended. Marked failed so that queued runs can start; re-execute it to finish.")
    return found
