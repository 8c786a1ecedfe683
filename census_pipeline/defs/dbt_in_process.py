"""dbt inside the run's process: the two builds of a run without ~4 s each of process start.

dagster-dbt runs every dbt command as a subprocess (`DbtCliInvocation`): a new Python imports dbt
(~1.5 s here), loads and checks the project's parse state, writes a manifest, and at the end tears
it all down; timed here on the 1 M census's bulletin build, 7.5 s for a command whose nodes took
3.4 s. In the run's process dbt is imported and the project parsed once, in the background while
the run ingests (`warm_up`), and each build is a `dbtRunner` invocation on that parsed project
(3.7 s for the same build).

`InProcessInvocation` is dagster-dbt's invocation with the subprocess replaced by a thread: dbt's
events become JSON lines that feed dagster-dbt's own event stream, so the assets, checks and logs
are what the subprocess gave. As the subprocess printed them: dbt's info, warning and error events
(not its debug events, which hold every SQL statement), with the values of DBT_ENV_SECRET_*
variables scrubbed. dbt writes the same artifacts into the same invocation folder
(run_results.json, manifest.json, dbt.log as JSON lines at debug level). What differs:
- an interrupt (Ctrl-C, a stop signal) stops dbt in the process instead of sending it SIGINT: the
  DuckDB queries running are interrupted, a node opening a connection after that is refused one
  (dbt_plugin), and dbt, switched to fail-fast, stops at the first failed node;
- a killed run takes dbt with it, being the same process (the subprocess needed dbt_plugin's
  parent-death signal);
- dbt-duckdb keeps its database open in the process after a command: closed at the end of each
  build, so that the run's next step (or a reader) finds the warehouse free.
A command dagster-dbt sends to a copy of the project (a subset of more than 200 dbt resources is
run through a generated selector file there) runs as a subprocess, as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import dagster_dbt.core.resource as dagster_dbt_resource
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

from census_pipeline.lib.progress import report as report_progress
from census_pipeline.lib.warm_up import background

_parsed: dict[str, Future] = {}  # warehouse path (and target, if not the default) -> the project parsed for it, oldest first
KEEP_PARSED = 3
_lock = threading.Lock()
_one_build = threading.Lock()  # dbt's flags and dbt-duckdb's database are process-wide: one command at a time


def _key(warehouse: str, target: str | None) -> str:
    return os.path.abspath(warehouse) + (f"|{target}" if target else "")


def warm_up(project_dir: Path, profiles_dir: str, warehouse: str, target: str | None = None) -> Future:
    """Import dbt and parse the project for `warehouse` (its database name is part of every
    relation) and the profile's `target` (None: its default) in the background; the builds of
    the run use what it made. Once per warehouse, target and process."""
    key = _key(warehouse, target)
    with _lock:
        if key not in _parsed or (_parsed[key].done() and _parsed[key].exception() is not None):
            _parsed[key] = background(_parse, project_dir, profiles_dir, warehouse, target)
        _parsed[key] = _parsed.pop(key)  # the newest last; a process running on many warehouses
        while len(_parsed) > KEEP_PARSED:  # (a test suite) keeps the last few
            _parsed.pop(next(iter(_parsed)))
        return _parsed[key]


def _parse(project_dir: Path, profiles_dir: str, warehouse: str, target: str | None = None):
    """The project as dbt parses it for `warehouse`, from the warehouse's saved parse state when
    it is current (~1 s; a whole parse ~4 s), in a scratch target folder."""
    from dbt.cli.main import dbtRunner

    from census_pipeline.defs.dbt import parse_state

    with _one_build, tempfile.TemporaryDirectory(prefix="census-dbt-parse-") as tmp:
        folder = Path(tmp)
        with parse_state(folder, warehouse, target), _environment({"CENSUS_WAREHOUSE": warehouse}):
            res = dbtRunner().invoke(["parse", "--project-dir", str(project_dir), "--profiles-dir", profiles_dir,
                                      "--target-path", str(folder), "--log-path", str(folder), "--quiet",
                                      "--no-send-anonymous-usage-stats", *(["--target", target] if target else [])])
        if not res.success:
            raise RuntimeError(f"dbt parse failed: {res.exception}")
        return res.result


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """`values` set in the environment meanwhile (dbt reads its profile's variables there); a variable
    already so is left alone, so that the main thread may set it meanwhile."""
    values = {k: v for k, v in values.items() if os.environ.get(k) != v}
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def close_duckdb() -> None:
    """dbt-duckdb's database, open in this process since the command's first query: closed (and
    so checkpointed), leaving the file to the run's next step (or to a test that reads it)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.adapters.factory import reset_adapters

    from census_pipeline.dbt_plugin import forget_cursors

    with DuckDBConnectionManager._LOCK:
        env, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
        forget_cursors()
        if env is not None:
            env.close()
    reset_adapters()  # and dbt's adapter with its connections, each holding a cursor of that database


class DbtThread:
    """The part of `subprocess.Popen` dagster-dbt uses (args, stdout, wait, send_signal, returncode;
    poll, for ourselves), for a dbt command running on a thread of this process."""

    def __init__(self, args: list[str], in_process_args: list[str], manifest: Any, env: dict[str, str]):
        self.args = args
        self.returncode: int | None = None
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._cancelled = threading.Event()
        self._nodes = self._finished = 0  # dbt's nodes in this command, and those finished
        self._counting = threading.Lock()
        self.stdout = _Lines(self._lines)
        self._thread = threading.Thread(target=self._run, args=(in_process_args, manifest, env),
                                        name="dbt", daemon=True)
        self._thread.start()

    def _event(self, msg) -> None:
        """One event of dbt, from any of its threads: never raises (dbt fires events where an
        exception would leave it waiting for ever). Debug events are left out, as dbt's own console
        logger left them out of the subprocess's output. Each node finished is reported to the
        run's progress line (lib/progress.py), of the nodes dbt's start lines count."""
        name = msg.info.name
        if name in ("LogStartLine", "NodeFinished"):
            with self._counting:  # (dbt's threads: the counts reported in the order they were made)
                if name == "LogStartLine":
                    self._nodes = getattr(msg.data, "total", 0) or self._nodes
                else:
                    self._finished += 1
                    report_progress(self._finished, self._nodes, "dbt models and tests")
        if msg.info.level == "debug":
            return
        from dbt_common.events.functions import env_scrubber, msg_to_dict

        try:
            self._lines.put(env_scrubber(json.dumps(msg_to_dict(msg), default=str)).encode())
        except Exception as e:  # noqa: BLE001 - an event that does not serialize is named, not raised
            self._lines.put(json.dumps({"info": {"level": "warn", "msg": f"dbt event not shown: {e!r}",
                                                 "name": "CensusEventNotShown"}, "data": {}}).encode())

    def _run(self, args: list[str], manifest: Any, env: dict[str, str]) -> None:
        from dbt.cli.main import dbtRunner

        from census_pipeline.dbt_plugin import allow_builds
        from census_pipeline.lib.dbt_schedule import longest_chain_first

        longest_chain_first()  # the linkage chain before the tables beside the bulletin (lib/dbt_schedule.py)
        code = 2
        try:
            with _one_build, _environment(env):
                allow_builds()
                try:
                    res = dbtRunner(manifest=manifest, callbacks=[self._event]).invoke(args)
                    code = 0 if res.success else (2 if res.exception is not None else 1)
                finally:
                    close_duckdb()
        except BaseException as e:  # noqa: BLE001 - reported as the command's failure, like a subprocess's
            self._lines.put(json.dumps({"info": {"level": "error", "msg": f"dbt failed in process: {e!r}",
                                                 "name": "CensusInProcessError"}, "data": {}}).encode())
        finally:
            self.returncode = 1 if self._cancelled.is_set() and code == 0 else code
            self._lines.put(None)

    def poll(self) -> int | None:
        return None if self._thread.is_alive() else self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code; None if dbt is still running after `timeout` (dagster-dbt waits so after
        an interrupt, then lets the interrupt go on). Once cancelled, what runs is interrupted
        again every half second: a model busy in Python (Splink) when the signal came meets the
        interrupt at its next query, and on Spark a job a model started meanwhile is cancelled."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._thread.is_alive() and (deadline is None or time.monotonic() < deadline):
            self._thread.join(0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic())))
            if self._cancelled.is_set() and self._thread.is_alive():
                _interrupt_what_runs()
        return self.poll()

    def send_signal(self, sig: int) -> None:
        """SIGINT or SIGTERM: stop the build. dbt is switched to fail-fast, the queries running are
        interrupted (those models fail) and a model starting after is refused its connection (on
        DuckDB) or its statement (on Spark)."""
        if sig not in (signal.SIGINT, signal.SIGTERM):
            return
        from dbt.flags import get_flags

        self._cancelled.set()
        with contextlib.suppress(Exception):  # dbt's flags are a frozen object, read at each result
            object.__setattr__(get_flags(), "FAIL_FAST", True)
        _interrupt_what_runs()


def _interrupt_what_runs() -> None:
    """dbt's DuckDB queries interrupted and no new one allowed; on Spark (CENSUS_ENGINE=spark), the
    jobs of the run's session cancelled (none started: nothing to do)."""
    from census_pipeline.dbt_plugin import cancel_builds

    cancel_builds()
    with contextlib.suppress(Exception):  # a session stopping meanwhile has nothing to cancel
        from census_pipeline.defs.spark_engine import cancel_jobs

        cancel_jobs()


class _Lines:
    """dbt's events as the byte lines a subprocess's stdout would give, until dbt has finished.
    Waits in short slices, so that an interrupt reaches the run's main thread at once."""

    def __init__(self, lines: queue.Queue):
        self._q = lines
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        while not self.closed:
            try:
                line = self._q.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                self.closed = True
                return
            yield line

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


# dagster-dbt's environment for its subprocess, as dbt's own flags
_FLAGS = {"DBT_TARGET_PATH": "--target-path", "DBT_LOG_PATH": "--log-path", "DBT_PROFILES_DIR": "--profiles-dir",
          "DBT_PROJECT_DIR": "--project-dir", "DBT_INDIRECT_SELECTION": "--indirect-selection"}


class InProcessInvocation(DbtCliInvocation):
    """dagster-dbt's invocation of a dbt command, run on a thread of this process (module doc)."""

    warehouse: str | None = None  # the warehouse's absolute path (set by the resource)
    target: str | None = None  # the profile's target (None: its default, DuckDB)

    @classmethod
    def run(cls, args, env, manifest, dagster_dbt_translator, project_dir, target_path, raise_on_error,
            context, adapter, cli_version, dbt_project=None):
        parsed = _parsed.get(_key(cls.warehouse, cls.target)) if cls.warehouse else None
        if "--selector" in args and cls.target == "spark":  # a dbt process of its own has no Spark session
            import dagster as dg

            raise dg.Failure("On Spark dbt runs in the run's process only: select fewer than 200 dbt resources, "
                             "or all of a build's (dagster-dbt sends a larger subset to a dbt process of its own)")
        if "--selector" in args:  # dagster-dbt runs it in a copy of the project, with a selector file of its own
            return DbtCliInvocation.run(args=args, env=env, manifest=manifest,
                                        dagster_dbt_translator=dagster_dbt_translator, project_dir=project_dir,
                                        target_path=target_path, raise_on_error=raise_on_error, context=context,
                                        adapter=adapter, cli_version=cli_version, dbt_project=dbt_project)
        flags = [x for name, flag in _FLAGS.items() if env.get(name) for x in (flag, env[name])]
        in_process = [*args[1:], *flags, "--log-level", "none", "--log-level-file", "debug",
                      "--log-format-file", "json", "--no-send-anonymous-usage-stats"]
        # dagster-dbt's `env` is this process's environment and dbt's settings (the flags above, and
        # what only a subprocess needs); the warehouse absolute, as the Warehouse resource reads it
        # (the subprocess ran in the project's folder)
        own_env = {"CENSUS_WAREHOUSE": cls.warehouse} if cls.warehouse else {}
        parsed_manifest = None
        if parsed is not None:
            try:
                parsed_manifest = parsed.result()  # waits for the warm-up if it is still parsing
            except Exception as e:  # dbt parses for itself below, and says why if it cannot
                if context is not None:
                    context.log.warning(f"dbt's project was not parsed ahead ({type(e).__name__}: {e}): "
                                        "dbt parses it now")
        target_path.mkdir(parents=True, exist_ok=True)
        process = DbtThread(list(args), in_process, parsed_manifest, own_env)
        invocation = cls(process=process, manifest=manifest, project=dbt_project,  # type: ignore[arg-type]
                         dagster_dbt_translator=dagster_dbt_translator, project_dir=project_dir,
                         target_path=target_path, raise_on_error=raise_on_error, context=context,
                         adapter=adapter, cli_version=cli_version)
        dagster_dbt_resource.logger.info(f"Running dbt command in process: `{invocation.dbt_command}`.")
        return invocation


@contextlib.contextmanager
def invocations_in_process(warehouse: str | None, target: str | None = None):
    """While dagster-dbt's resource prepares a command: its invocation runs dbt in this process, on
    `warehouse` (an absolute path: dagster-dbt prepares the command in the project's folder) and
    the profile's `target`."""
    InProcessInvocation.warehouse = warehouse
    InProcessInvocation.target = target
    original = dagster_dbt_resource.DbtCliInvocation
    dagster_dbt_resource.DbtCliInvocation = InProcessInvocation
    try:
        yield
    finally:
        dagster_dbt_resource.DbtCliInvocation = original
