"""Fault injection: kill `census run` with SIGKILL at many points, rerun, compare the bulletin.

    .venv/bin/python bench/fault_injection.py [--households 300] [--seed 7] [--out /tmp/fault]

Generates a census, runs it once undisturbed (the reference), then, on a fresh warehouse, starts
`census run --demo` again and again, each time killing it (SIGKILL, no chance to clean up) at the
next kill point: when a given step has started or finished, while a dbt build holds the warehouse,
or after some seconds. After each kill it checks that no process of the killed run survives (dbt,
Dagster's log tails...) and, at the next start, that the killed run is marked FAILURE in the
instance. A last run goes to the end; its published bulletin CSVs must be byte-identical to the
reference's. Prints one line per kill point and exits 1 on the first broken promise.

tests/integration/test_crash_recovery.py uses the same machinery with two kill points.

Measured 2026-12-03 (150 households, seed 5, two cores shared with a 12-million-person benchmark):
reference run 85 s; eight kills at 3-70 s (two while a dbt build held the warehouse), no process
survived any; the final run 86 s marked the last killed run failed (each earlier one was marked by
the run after it; the one killed at 3 s had no run yet): 7 FAILURE, 1 SUCCESS, nothing left STARTED;
the 12 bulletin CSVs byte-identical to the reference's. About 11 minutes in all.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CENSUS = str(Path(sys.executable).with_name("census"))


# --- processes ---------------------------------------------------------------------------------

def run_with_deadline(command: list[str], env: dict | None = None, timeout: float = 600,
                      cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """A command's output (run in `cwd`, or this process's folder); one that has not ended within
    `timeout` seconds fails the test instead of stalling the suite, showing where each of its
    threads stood if it is Python (faulthandler prints their stacks on SIGABRT), and nothing it
    started outlives it."""
    proc = subprocess.Popen(command, env=dict(env or os.environ, PYTHONFAULTHANDLER="1"), text=True, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        out = err = None
        with contextlib.suppress(subprocess.TimeoutExpired):  # its stacks, read as they come
            out, err = proc.communicate(timeout=20)
        with contextlib.suppress(ProcessLookupError):  # (a group with no process left is gone)
            os.killpg(proc.pid, signal.SIGKILL)  # its children too, so that its pipes close
        if out is None:
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                out, err = "", "(its output was held open by a process outside its group)"
        raise AssertionError(f"{' '.join(command[:4])} still running after {timeout:.0f} s; its stacks:\n"
                             f"{err[-12000:]}\n--- its output ---\n{out[-3000:]}") from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # only the processes this command started
        proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(errors="replace")
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def process_start(pid: int) -> int | None:
    """Start time of a live (not zombie) process, in clock ticks since boot."""
    fields = _stat(pid)
    return None if fields is None or fields[0] in ("Z", "X") else int(fields[19])


def descendants(pid: int) -> dict[int, tuple[int, str]]:
    """Every live descendant of `pid`: pid -> (start time, command line)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = {}, list(children.get(pid, []))
    while todo:
        p = todo.pop()
        start = process_start(p)
        if start is None:
            continue
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found[p] = (start, cmd)
        todo += children.get(p, [])
    return found


def survivors(procs: dict[int, tuple[int, str]], wait_s: float = 15.0) -> dict[int, str]:
    """Those of `procs` still alive after up to `wait_s` seconds (Dagster's log tails poll for their
    parent once a second; dbt must be gone at once, but we allow the same)."""
    deadline = time.monotonic() + wait_s
    while True:
        alive = {p: cmd for p, (start, cmd) in procs.items() if process_start(p) == start}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.25)


def holds_file(pid: int, path: str) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == path for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


# --- kill points -------------------------------------------------------------------------------

@dataclass
class Run:
    proc: subprocess.Popen
    env: dict
    started: float
    lines: list[str]  # what the run printed so far (one line per finished step)

    def steps_done(self) -> list[str]:
        return [line.split()[1] for line in list(self.lines) if line.startswith("  ok ")]


@dataclass
class KillPoint:
    name: str
    ready: Callable[[Run], bool]


def after_seconds(s: float) -> KillPoint:
    return KillPoint(f"after {s:g} s", lambda run: time.time() - run.started >= s)


def after_steps(n: int) -> KillPoint:
    return KillPoint(f"after {n} steps finished", lambda run: len(run.steps_done()) >= n)


def step_finished(step: str) -> KillPoint:
    return KillPoint(f"when step {step} finished", lambda run: step in run.steps_done())


def run_log(run: Run) -> Path | None:
    """The run's full log (`census run` names it in its first line)."""
    for line in list(run.lines):
        if "full log in " in line:
            return Path(line.split("full log in ", 1)[1].strip())
    return None


def dbt_holds_warehouse(build: str = "") -> KillPoint:
    """While a dbt build whose command holds `build` runs its models, in the run's own process
    (defs/dbt_in_process.py), which then holds the warehouse open: the run's log shows the
    command, a model started since, and not the command's end. The microdata build is the one
    with `--exclude path:` (the bulletin's paths), the bulletin build the one with
    `--select path:models/marts/bulletin`: every build has `--exclude-resource-type`."""
    def ready(run: Run) -> bool:
        log = run_log(run)
        try:
            text = log.read_text(encoding="utf-8", errors="replace") if log else ""
        except OSError:
            return False
        commands = [m.start() for m in re.finditer(r"Running dbt command[^\n]*", text) if build in m.group(0)]
        if not commands:
            return False
        since = text[commands[-1]:]
        return (" START " in since and "Finished dbt command" not in since
                and holds_file(run.proc.pid, run.env["CENSUS_WAREHOUSE"]))
    return KillPoint(f"while dbt build {build or ''} holds the warehouse".replace("  ", " "), ready)


# --- runs --------------------------------------------------------------------------------------

def census_env(landing: Path, folder: Path, **extra) -> dict:
    env = dict(os.environ, CENSUS_LANDING_DIR=str(landing), CENSUS_WAREHOUSE=str(folder / "w.duckdb"),
               CENSUS_OUTPUT_DIR=str(folder / "out"), DAGSTER_HOME=str(folder / "dagster_home"),
               CENSUS_LOG_LEVEL="INFO", PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    env.pop("CENSUS_RUN_PID", None)
    env.update(extra)
    return env


def start(env: dict) -> Run:
    # background processes here start with SIGINT and SIGTERM ignored: give the run the defaults
    started = time.time()
    # (a session of its own: a run that never reaches its kill point is ended with all it started)
    proc = subprocess.Popen(["env", "--default-signal=INT,TERM", CENSUS, "run", "--demo"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    run = Run(proc, env, started, [])
    threading.Thread(target=lambda: run.lines.extend(proc.stdout), daemon=True).start()
    return run


def finish(env: dict, timeout: float = 900) -> str:
    run = run_with_deadline([CENSUS, "run", "--demo"], env, timeout)
    if run.returncode != 0:
        raise AssertionError(f"the run after the kills failed ({run.returncode}):\n{run.stdout[-3000:]}{run.stderr[-2000:]}")
    return run.stdout


def kill_at(env: dict, point: KillPoint, timeout: float = 600) -> dict:
    """Start a run, SIGKILL it at `point`; return what was found (its descendants, survivors, ...)."""
    run = start(env)
    deadline = time.monotonic() + timeout
    while not point.ready(run):
        if run.proc.poll() is not None:
            raise AssertionError(f"the run ended before {point.name}:\n{''.join(run.lines)[-3000:]}")
        if time.monotonic() > deadline:
            os.killpg(run.proc.pid, signal.SIGKILL)
            run.proc.wait()
            raise AssertionError(f"{point.name}: not reached in {timeout} s")
        time.sleep(0.2)
    # `env` execs census: the Popen's pid is the run's process
    procs = descendants(run.proc.pid)
    run.proc.send_signal(signal.SIGKILL)
    run.proc.wait()
    left = survivors(procs)
    for p in left:  # do not leave them to disturb what follows
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return {"point": point.name, "pid": run.proc.pid, "after_s": time.time() - run.started,
            "children": sorted(cmd[:80] for _, cmd in procs.values()), "survivors": left}


def run_statuses(dagster_home: Path) -> dict[str, str]:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        return {r.run_id: r.status.value for r in instance.get_runs()}


def bulletin_csvs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "bulletin").glob("*.csv"))}


def differing(reference: dict[str, bytes], got: dict[str, bytes]) -> list[str]:
    return sorted(n for n in reference.keys() | got.keys() if reference.get(n) != got.get(n))


KILL_POINTS = [
    after_seconds(3),                                   # loading the definitions
    after_steps(1),                                     # ingestion under way
    step_finished("upload_batches"),                    # the first quality gate reading the warehouse
    dbt_holds_warehouse("--exclude path:"),             # the microdata build
    after_steps(12),                                    # gates after the microdata
    dbt_holds_warehouse("--select path:models/marts/bulletin"),  # the bulletin build
    step_finished("bulletin__tables_suite"),            # writing the bulletin folder
    after_seconds(50),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default="/tmp/census-fault-injection")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        print(f"{out} exists: give a new --out", file=sys.stderr)
        return 2
    landing = out / "landing"
    subprocess.run([CENSUS, "generate", "--households", str(args.households), "--seed", str(args.seed), "--out",
                    str(landing), "--quiet"], check=True, capture_output=True)
    t = time.time()
    finish(census_env(landing, out / "reference"))
    reference = bulletin_csvs(out / "reference" / "out")
    print(f"reference run: {time.time() - t:.0f} s, {len(reference)} bulletin CSVs")
    env = census_env(landing, out / "killed")
    failures = 0
    killed = []
    for point in KILL_POINTS:
        found = kill_at(env, point)
        killed.append(found)
        dbt = any("dbt" in c for c in found["children"])
        ok = not found["survivors"]
        failures += not ok
        print(f"  kill at {found['after_s']:5.1f} s, {point.name}: {len(found['children'])} child processes"
              f"{' (dbt among them)' if dbt else ''}; survivors: {sorted(found['survivors'].values()) or 'none'}")
    t = time.time()
    stdout = finish(env)
    print(f"final run: {time.time() - t:.0f} s; it reported {stdout.count('lost its process')} dead run(s)")
    statuses = run_statuses(out / "killed" / "dagster_home")
    # a run killed while the definitions load has no run in the instance yet
    not_failed = {k: v for k, v in statuses.items() if v not in ("SUCCESS", "FAILURE")}
    failed, succeeded = (sum(v == s for v in statuses.values()) for s in ("FAILURE", "SUCCESS"))
    print(f"runs in the instance: {failed} FAILURE (of {len(KILL_POINTS)} killed), {succeeded} SUCCESS, "
          f"not finished: {not_failed or 'none'}")
    diff = differing(reference, bulletin_csvs(out / "killed" / "out"))
    print(f"bulletin CSVs differing from the reference: {diff or 'none'}")
    failures += bool(not_failed) + bool(diff) + (succeeded != 1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
