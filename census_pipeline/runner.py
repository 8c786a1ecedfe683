"""`census run`: materialize every asset through Dagster, in process, and summarise.

What a person sees is short: one line per finished step (on a terminal, a line under them for
the step running: lib/progress.py), then one line per failure naming the step (and the file and
line where known) and its cause. Everything else — Dagster's own log with
its stack traces, dbt's output, Great Expectations' progress — goes to one log file per run,
$CENSUS_OUTPUT_DIR/logs/census-run-<run id>.log, whose path is printed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import sys
import time
import uuid
from pathlib import Path

import dagster as dg

from census_pipeline.defs.automation.dead_runs import fail_dead_runs
from census_pipeline.lib.codes import PROJECT_ROOT

PUBLISHED_ASSET = "bulletin/published_files"


def ensure_instance_config(home: str) -> None:
    """Give a new DAGSTER_HOME the project's instance settings (one run at a time), and an event
    log that keeps its SQLite connections open (census_pipeline/instance.py) in the folder the
    default one uses, so the history reads the same with or without it. A DAGSTER_HOME that has a
    dagster.yaml keeps it as it is."""
    from census_pipeline.instance import EVENT_LOG_STORAGE

    os.makedirs(home, exist_ok=True)
    target = os.path.join(home, "dagster.yaml")
    if not os.path.exists(target):
        runs = os.path.join(os.path.abspath(home), "history", "runs")
        text = (PROJECT_ROOT / "dagster.yaml").read_text() + EVENT_LOG_STORAGE.format(base_dir=json.dumps(runs))
        tmp = f"{target}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, target)  # two runs starting at once: each writes whole, one wins


def _instance() -> dg.DagsterInstance:
    """The DAGSTER_HOME instance when set (runs show in `make ui`), else a throwaway one."""
    if os.environ.get("DAGSTER_HOME"):
        import fcntl

        home = os.environ["DAGSTER_HOME"]
        ensure_instance_config(home)
        # opening an instance creates its SQLite storage on first use; two runs doing that at
        # once race ("table ... already exists"), so the opening is one process at a time
        with open(os.path.join(home, ".instance-open.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


JOB = "census_all"


def census_job_and_selection(selection: str = "*") -> tuple[dg.JobDefinition, list[dg.AssetKey] | None]:
    """The `census_all` job of the project's Definitions (the one the schedule and the sensor run),
    and the asset keys a `--select` string picks in it (None: all of it)."""
    from census_pipeline.definitions import defs

    job = defs.resolve_job_def(JOB)  # (get_job_def warns: the job is defined with define_asset_job)
    if selection.strip() in ("", "*"):
        return job, None
    keys = dg.AssetSelection.from_string(selection).resolve(defs.resolve_asset_graph())
    return job, sorted(keys, key=lambda k: k.to_user_string())


def materialize_census(instance: dg.DagsterInstance | None = None, selection: str = "*",
                       tags: dict | None = None, run_id: str | None = None,
                       progress=None) -> dg.ExecuteInProcessResult:
    """Run the `census_all` job (or the `selection` of it), with its asset checks (the quality gates
    included), in process.

    The run is the job's own, as if the schedule had started it: it is named census_all in the
    instance, counts in the job's history and can be re-executed from the UI; its run config is only
    what that job accepts (the console's log level). `progress`, a text stream, gets one line per
    finished step and every warning, from the instance's events (Dagster's console log still goes
    to stderr)."""
    job, asset_keys = census_job_and_selection(selection)
    level = os.environ.get("CENSUS_LOG_LEVEL", "INFO")
    run_config = _console(level)
    run_id = run_id or str(uuid.uuid4())
    if instance is None:
        instance = dg.DagsterInstance.ephemeral()
    listener = None
    try:
        if progress is not None:
            listener = _ProgressListener(progress, logging.getLevelName(level), asset_keys)
            instance.add_event_listener(run_id, listener)
        with _runs_from_the_workspace(instance, job.name):
            return job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False,
                                          asset_selection=asset_keys, tags=tags, run_id=run_id)
    finally:
        if listener is not None:
            listener.close()


LIVE_MINIMUM = 10  # a step with fewer assets and checks than this shows no bar, only its time


def step_totals(asset_keys: list[dg.AssetKey] | None = None) -> dict[str, int]:
    """Step (op) -> the assets and asset checks it makes in a run of `asset_keys` (None: all), as
    many as the events of them that step sends (a dbt build: one per seed, model and test)."""
    from census_pipeline.definitions import defs

    selected = None if asset_keys is None else set(asset_keys)
    totals: dict[str, int] = {}
    for assets in defs.resolve_asset_graph().assets_defs:
        if not assets.is_executable:
            continue
        n = sum(1 for k in assets.keys if selected is None or k in selected)
        n += sum(1 for c in assets.check_keys if selected is None or c.asset_key in selected)
        if n:
            totals[assets.node_def.name] = totals.get(assets.node_def.name, 0) + n
    return totals


def _console(level: str) -> dict:
    """The run config of a job's console log at `level` (the only run config census_all takes)."""
    return {"loggers": {"console": {"config": {"log_level": level}}}}


BY_COUNTY_JOB = "census_ingest_by_county"


def ingest_by_county(counties: list[str] | None = None) -> dg.ExecuteInProcessResult:
    """Run the `census_ingest_by_county` job in process (the routing step, a step per county with
    lines waiting, or only `counties`', and the merge), recorded in the instance like a census run."""
    from census_pipeline.definitions import defs

    job = defs.resolve_job_def(BY_COUNTY_JOB)
    run_config = {"ops": {"route_uploads": {"config": {"counties": sorted(counties or [])}}},
                  **_console(os.environ.get("CENSUS_LOG_LEVEL", "INFO"))}
    with _instance() as instance, _runs_from_the_workspace(instance, job.name):
        return job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False,
                                      tags={"census/trigger": "census ingest-by-county"})


@contextlib.contextmanager
def _runs_from_the_workspace(instance: dg.DagsterInstance, job_name: str):
    """Runs created on `instance` meanwhile carry the origin of a run launched from the UI: the code
    location of workspace.yaml (what `census ui` and `make ui` load) and its one repository.

    The UI re-executes a run through that origin (without one, "Re-execute all" on a census run
    failed with "Expected non-None value", tests/e2e/test_ui.py), and the run-failure sensor takes
    the run as its code location's (it alerts once: `census run` has alerted already). `execute_in_process` records
    no origin and takes none, so its one call creating the run is given it here, on this instance
    object only."""
    from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
    from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.workspace.load import location_origins_from_yaml_paths

    [location] = location_origins_from_yaml_paths([str(PROJECT_ROOT / "workspace.yaml")])
    origin = RemoteJobOrigin(RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME), job_name)
    create = instance.create_run_for_job
    instance.create_run_for_job = lambda *args, **kwargs: create(*args, **{"remote_job_origin": origin, **kwargs})
    try:
        yield
    finally:
        del instance.create_run_for_job  # the class's own again


# Dagster's and dagster-dbt's routine messages: in the log file, not on the terminal (the summary
# counts the steps not run)
QUIET_MESSAGES = ("A dbt subsetted", "Copying `", "Running dbt command", "Dependencies for step")


class _ProgressListener:
    """One short line per finished step and per warning or message of the pipeline's own code, from
    the run's events as the instance stores them; on a terminal, a line under them for the step
    running (lib/progress.py: how far it is and for how long)."""

    PROGRESS_EVENTS = (dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION)

    def __init__(self, stream, level: int, asset_keys: list[dg.AssetKey] | None = None):
        from census_pipeline.lib.progress import StatusLine, wanted

        self.stream, self.message_level = stream, level
        self.status = StatusLine(stream) if wanted(stream) else None
        self.totals = step_totals(asset_keys) if self.status is not None else {}  # (read by the line only)

    def close(self) -> None:
        if self.status is not None:
            self.status.close()

    def __call__(self, entry) -> None:
        event, step = entry.dagster_event, entry.step_key or "run"
        if self.status is not None and event is not None:
            if event.event_type == dg.DagsterEventType.STEP_START:
                total = self.totals.get(step, 0)
                self.status.start(step, total if total >= LIVE_MINIMUM else 0, "assets and checks")
            elif event.event_type in self.PROGRESS_EVENTS:
                self.status.advance(step)
            elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                self.status.stop()
        if event is None:
            if entry.level < self.message_level:
                return
            text = str(entry.user_message or "").strip().splitlines()
            if text and not text[0].startswith(QUIET_MESSAGES):
                self._write(f"  {'warning ' if entry.level >= logging.WARNING else ''}{step}: {text[0][:240]}")
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            self._write(f"  ok      {step} ({event.event_specific_data.duration_ms / 1000:.1f} s)")
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            if error is not None and _root_cause(error).cls_name == "DagsterExecutionInterruptedError":
                self._write(f"  halted  {step} (interrupted)")
            else:
                self._write(f"  FAILED  {step} (cause below)")

    def _write(self, line: str) -> None:
        from census_pipeline.lib.progress import put

        if self.status is not None:
            self.status.write(line)  # above the status line
        else:
            put(self.stream, line + "\n")


@contextlib.contextmanager
def _everything_into(log_path: Path):
    """Send this process's stdout and stderr (and its children's: dbt) into `log_path`; yield a
    stream to the real terminal."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved_out), "w", buffering=1, encoding="utf-8")
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
        terminal.close()


HEADLINE_ASSETS = {"linkage/linkage_quality", "quality/pes_estimates"}  # their figures are printed after a run


def _truth_net_omission(landing: str) -> float | None:
    """The planted net omission rate of a generated census (its truth file), else None."""
    import json

    from census_pipeline.lib.truth_files import truth_path_for

    path = truth_path_for(Path(landing))
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("pes", {}).get("net_omission_rate_pct")


def materialize_all(locations: dict[str, str], selection: str = "*") -> int:
    from census_pipeline.lib.alerts import ALERTS_FILE, COMMAND_VARIABLE, alert
    from census_pipeline.lib.publish import mark_stale

    started = time.perf_counter()
    run_id = str(uuid.uuid4())
    log_path = Path(locations["CENSUS_OUTPUT_DIR"], "logs", f"census-run-{run_id}.log")
    print(f"census run {run_id[:8]}: full log in {log_path}", flush=True)
    result = None
    os.environ["CENSUS_RUN_PID"] = str(os.getpid())  # dbt, started by this run, dies with it (dbt_plugin)
    try:
        with _instance() as instance:
            try:
                for dead in fail_dead_runs(instance):
                    print(f"census run: run {dead.run_id[:8]} ({dead.job_name}) lost its process (pid {dead.pid}, "
                          f"killed?): marked failed in {os.environ['DAGSTER_HOME']}", flush=True)
                with _everything_into(log_path) as terminal:
                    result = materialize_census(instance, selection, tags={"census/trigger": "census run"},
                                                run_id=run_id, progress=terminal)
                not_run = sorted({e.step_key for e in instance.all_logs(run_id)
                                  if e.step_key and (e.user_message or "").startswith("Dependencies for step")})
            except KeyboardInterrupt:
                _ignore_further_interrupts()
                fail_if_unfinished(instance, run_id)
                raise
    except KeyboardInterrupt:
        _ignore_further_interrupts()
        return halted(locations, run_id, log_path, published=result is not None and summarise(result)["published"])
    if was_interrupted(result):  # Dagster caught the interrupt inside a step and failed the run itself
        _ignore_further_interrupts()
        return halted(locations, run_id, log_path, published=summarise(result)["published"])
    summary = summarise(result)
    summary["steps_skipped"] = sorted(set(summary["steps_skipped"]) | set(not_run))
    failures = failure_lines(result, summary) + dbt_error_lines(log_path)
    elapsed = time.perf_counter() - started
    print(f"\ncensus run {'succeeded' if summary['ok'] else 'FAILED'} in {elapsed:.0f} s (run {run_id[:8]})")
    print(f"  assets materialized: {summary['materialized']}   checks passed: {summary['checks_passed']}"
          f"   checks failed: {len(summary['checks_failed'])}   steps failed: {len(summary['steps_failed'])}"
          + (f"   steps not run (upstream failed): {len(summary['steps_skipped'])}" if summary["steps_skipped"] else ""))
    for line in failures:
        print(f"  {line}")
    for key in ("raw/household_submissions", "raw/person_lines", "quality/quarantine"):
        if key in summary["row_counts"]:
            print(f"  {key}: {summary['row_counts'][key]:,} rows")
    h = summary["headline"]
    if "precision_pct/whole" in h:
        print(f"  linkage vs the generator's truth: residue precision {h.get('precision_pct/residue', 0):.3f}% "
              f"recall {h.get('recall_pct/residue', 0):.3f}%; whole census precision {h['precision_pct/whole']:.3f}% "
              f"recall {h['recall_pct/whole']:.3f}%")
    if "net_omission_pct/city" in h:
        truth = _truth_net_omission(locations["CENSUS_LANDING_DIR"])
        ci = (f"95% CI {h['net_omission_ci95_low_pct/city']:.2f}% to {h['net_omission_ci95_high_pct/city']:.2f}%"
              if "net_omission_ci95_low_pct/city" in h else "no interval: one sampled EA per stratum")
        print(f"  coverage survey (PES): net omission rate {h['net_omission_pct/city']:.2f}% ({ci})"
              + (f"; generator's truth {truth:.2f}%" if truth is not None else ""))
    print(f"  landing zone: {locations['CENSUS_LANDING_DIR']}")
    print(f"  warehouse:    {locations['CENSUS_WAREHOUSE']}")
    print(f"  outputs:      {locations['CENSUS_OUTPUT_DIR']}")
    bulletin = Path(locations["CENSUS_OUTPUT_DIR"], "bulletin")
    if not summary["ok"]:
        cause = failures[0] if failures else "the run failed"
        note = None if summary["published"] else mark_stale(bulletin, run_id, cause)
        if note:
            print(f"  bulletin NOT updated; the last published one is marked stale: {note}")
        if alert(locations["CENSUS_OUTPUT_DIR"], run_id, cause, "census run", stale=note is not None):
            print(f"  alert raised: {Path(locations['CENSUS_OUTPUT_DIR'], ALERTS_FILE)}"
                  + (" (and CENSUS_ALERT_COMMAND)" if os.environ.get(COMMAND_VARIABLE) else ""))
    elif (bulletin / "bulletin.html").exists():
        print(f"  bulletin:     {bulletin / 'bulletin.html'} (and b1..b8 .csv, bulletin.xlsx beside it)")
    if os.environ.get("DAGSTER_HOME"):
        print(f"  Dagster runs: {os.environ['DAGSTER_HOME']} (make ui to browse them)")
    print(f"  full log:     {log_path}")
    return 0 if summary["ok"] else 1


def _ignore_further_interrupts() -> None:
    """A second Ctrl-C while a halted run tidies up (a second or less) would only print a trace."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def fail_if_unfinished(instance: dg.DagsterInstance, run_id: str) -> None:
    """An interrupt that reached `census run` outside Dagster's own handling (between its events)
    may leave the run STARTED: report it failed, as Dagster does for one interrupted in a step."""
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_failed(run, message="Execution was interrupted (Ctrl-C or a stop signal) by the person "
                                                "or service running `census run`; re-execute it to finish.")


def was_interrupted(result: dg.ExecuteInProcessResult) -> bool:
    """Dagster turns Ctrl-C (SIGINT, and SIGTERM) during a run into an interrupted step and a run
    failed as "interrupted unexpectedly", and returns normally."""
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE and event.event_specific_data.error is not None:
            if _root_cause(event.event_specific_data.error).cls_name == "DagsterExecutionInterruptedError":
                return True
        elif event.event_type == dg.DagsterEventType.RUN_FAILURE:
            reason = event.event_specific_data.failure_reason  # dagster's RunFailureReason, not public
            if reason is not None and reason.value == "UNEXPECTED_TERMINATION":
                return True
    return False


def halted(locations: dict[str, str], run_id: str, log_path: Path, published: bool) -> int:
    """The end of an interrupted run: the last bulletin marked stale (unless this run published its
    own before the interrupt), one line on stderr, exit 130 (128 + SIGINT, what a shell reports for
    a command stopped by Ctrl-C)."""
    from census_pipeline.cli import INTERRUPTED
    from census_pipeline.lib.alerts import alert
    from census_pipeline.lib.publish import mark_stale

    note = None if published else mark_stale(Path(locations["CENSUS_OUTPUT_DIR"], "bulletin"), run_id,
                                                 "the run was halted (interrupted)")
    if note:
        print(f"  bulletin NOT updated; the last published one is marked stale: {note}", flush=True)
    alert(locations["CENSUS_OUTPUT_DIR"], run_id, "the run was halted (interrupted)", "census run",
          stale=note is not None)
    print(f"census run {run_id[:8]}: {INTERRUPTED} (full log: {log_path})", file=sys.stderr, flush=True)
    return 130


def summarise(result: dg.ExecuteInProcessResult) -> dict:
    materialized, row_counts, passed, headline, published = 0, {}, 0, {}, False
    failed_checks: list[tuple[str, str]] = []
    check_causes: dict[str, str] = {}
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialized += 1
            mat = event.event_specific_data.materialization
            key = mat.asset_key.to_user_string()
            published = published or key == PUBLISHED_ASSET
            if key in HEADLINE_ASSETS:
                headline.update({k: v.value for k, v in mat.metadata.items() if "/" in k and "dagster" not in k})
            rc = mat.metadata.get("dagster/row_count")
            if rc is not None:
                row_counts[key] = int(rc.value)
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            ev = event.event_specific_data
            if ev.passed:
                passed += 1
            else:
                name = f"{ev.asset_key.to_user_string()}:{ev.check_name}"
                failed_checks.append((name, ev.severity.value))
                check_causes[name] = ev.description or _gate_cause(ev.metadata)
    steps_failed = [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    steps_skipped = [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_SKIPPED]
    blocking_failed = any(sev == "ERROR" for _, sev in failed_checks)
    return {
        "ok": result.success and not steps_failed and not blocking_failed,
        "materialized": materialized, "row_counts": row_counts, "checks_passed": passed,
        "checks_failed": failed_checks, "check_causes": check_causes, "steps_failed": steps_failed,
        "steps_skipped": steps_skipped, "headline": headline, "published": published,
    }


def _gate_cause(metadata) -> str:
    """A failed Great Expectations gate: how many expectations failed, and their rules."""
    failed = metadata.get("expectations_failed")
    if failed is None:
        return "see the check in the Dagster UI"
    table = metadata.get("failures")
    rules = [line.split("|")[1].strip() for line in str(getattr(table, "value", "") or "").splitlines()[2:]
             if line.startswith("|")]
    return (f"{failed.value} expectation(s) failed" + (f": {', '.join(rules)}" if rules else "")
            + " (details in the Dagster UI and the Data Docs)")


def _root_cause(error):
    """The first error: Dagster wraps the code's own exception in its step errors (cause), and an
    error raised while handling another (context) is a consequence of that other one."""
    while True:
        if error.cause is not None:
            error = error.cause
        elif error.context is not None:
            error = error.context
        else:
            return error


_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def _where(error) -> str:
    """file:line of the innermost frame in the project's own code (not a library's), if any."""
    root = str(PROJECT_ROOT)
    for frame in reversed(error.stack or []):
        m = _FRAME.search(frame)
        if m and m.group(1).startswith(root) and "/.venv/" not in m.group(1):
            return f"{os.path.relpath(m.group(1), root)}:{m.group(2)}"
    return ""


def _cause(error) -> str:
    if error.cls_name == "DagsterExecutionInterruptedError":
        return "halted: the run was interrupted (Ctrl-C or a stop signal)"
    text = (error.message or error.cls_name or "").strip()
    first = text.splitlines()[0] if text else "unknown error"
    first = re.sub(r"^dagster\._core\.definitions\.events\.Failure: ", "", first)
    return re.sub(r"^(?:[a-z_][\w]*\.)+(\w+(?:Error|Exception))\b", r"\1", first)[:400]


def failure_lines(result: dg.ExecuteInProcessResult, summary: dict) -> list[str]:
    """One line per failed step and per failed check: the step, where, and the cause."""
    lines = []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            if error is None:
                lines.append(f"FAILED step {event.step_key}")
                continue
            root = _root_cause(error)
            if root.cls_name == "DagsterAssetCheckFailedError":
                continue  # the failed check has its own line below
            where = "" if root.cls_name in ("Failure", "DagsterExecutionInterruptedError") else _where(root)
            lines.append(f"FAILED step {event.step_key}{f' at {where}' if where else ''}: {_cause(root)}")
    for name, severity in summary["checks_failed"]:
        kind = "blocking check" if severity == "ERROR" else "warning check"
        lines.append(f"failed {kind} {name}: {summary['check_causes'].get(name, '')}")
    if not lines and not summary["ok"]:
        lines.append("the run did not finish (see the full log)")
    return lines


_DBT_ERROR = re.compile(r"((?:Database|Compilation|Runtime|Parsing) Error in \w+ \S+ \([^)]*\))")


def dbt_error_lines(log_path: Path) -> list[str]:
    """dbt's own error lines (model or test, its file, the cause), once each."""
    if not log_path.exists():
        return []
    seen, lines = set(), []
    text = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    for i, line in enumerate(text):
        m = _DBT_ERROR.search(re.sub(r"\x1b\[[0-9;]*m", "", line))
        if m and m.group(1) not in seen:
            seen.add(m.group(1))
            cause = next((t.strip() for t in text[i + 1:i + 4] if t.strip()), "")
            lines.append(f"dbt: {m.group(1)}: {cause[:300]}")
    return lines
