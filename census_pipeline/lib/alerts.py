"""Telling someone that a census run failed, so a nightly run can be left alone.

Every failed or halted run gets one alert, whichever way it was started (`census run`, the UI,
the schedule, the landing sensor) and however many places notice it:

- a line appended to `$CENSUS_OUTPUT_DIR/alerts.log` (JSON: time, run, what started it, the
  cause in one line, whether the bulletin was marked stale) — the file a monitoring agent tails;
- when `CENSUS_ALERT_COMMAND` is set, that command is run with the alert text on its standard
  input and the fields in `CENSUS_ALERT_*` variables (for example a mail or chat client a census
  office already uses, or a script of its own). The command is split like a shell line but not
  run through a shell; it gets 30 seconds; if it fails, that is written to alerts.log, never
  raised (an alert must not fail the thing it reports on).

A cause is one line of the pipeline's own failure text: it never carries a name or an ID number
(reasons say what was wrong, not what the value was)."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shlex
import subprocess
from pathlib import Path

ALERTS_FILE = "alerts.log"
COMMAND_VARIABLE = "CENSUS_ALERT_COMMAND"
COMMAND_TIMEOUT_S = 30


def alert(output_dir: str | Path, run_id: str, cause: str, trigger: str, stale: bool,
          now: dt.datetime | None = None) -> dict | None:
    """Raise the alert for the failed run `run_id`, once: returns the alert written, or None when
    this run was already alerted (census run and the run-failure sensor both see its failure)."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    now = now or dt.datetime.now(dt.UTC)
    record = {"at": now.isoformat(timespec="seconds"), "run_id": run_id, "trigger": trigger,
              "cause": (cause or "the run failed").strip().splitlines()[0][:500], "bulletin_marked_stale": stale}
    with open(folder / ALERTS_FILE, "a+", encoding="utf-8") as log:
        fcntl.flock(log, fcntl.LOCK_EX)  # two processes noticing one failure: one alert
        log.seek(0)
        if any(_run_of(line) == run_id for line in log):
            return None
        log.write(json.dumps(record, ensure_ascii=False) + "\n")
        log.flush()
    command = os.environ.get(COMMAND_VARIABLE, "").strip()
    if command:
        record["command"] = _run_command(command, record, folder)
    return record


def _run_of(line: str) -> str | None:
    """The run a line of alerts.log is about (None for a blank or damaged line: a crash mid-write)."""
    try:
        return json.loads(line).get("run_id")
    except (ValueError, AttributeError):
        return None


def text_of(record: dict) -> str:
    return (f"census run {record['run_id']} failed at {record['at']} (started by {record['trigger']}): "
            f"{record['cause']}"
            + ("\nThe last published bulletin is marked stale." if record["bulletin_marked_stale"] else ""))


def _run_command(command: str, record: dict, folder: Path) -> str:
    env = dict(os.environ, **{f"CENSUS_ALERT_{k.upper()}": str(v) for k, v in record.items()})
    try:
        done = subprocess.run(shlex.split(command), input=text_of(record), text=True, env=env,
                              capture_output=True, timeout=COMMAND_TIMEOUT_S)
        outcome = "ok" if done.returncode == 0 else f"exit {done.returncode}"
    except (OSError, subprocess.TimeoutExpired) as e:
        outcome = f"could not run: {type(e).__name__}"
    if outcome != "ok":
        with open(folder / ALERTS_FILE, "a", encoding="utf-8") as log:
            log.write(json.dumps({"run_id": record["run_id"], "alert_command": outcome}) + "\n")
    return outcome
