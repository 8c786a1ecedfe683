"""dbt-duckdb plugin: hands the pseudonym key to DuckDB without writing it anywhere.

The key (CENSUS_PSEUDONYM_KEY) becomes two session variables, the HMAC-SHA256 inner and
outer pads, so that the `pseudonym` macro computes HMAC(key, value) in SQL. The key never
appears in compiled SQL, in dbt's command line or logs, or in Dagster metadata.
"""

from __future__ import annotations

import os
import threading

from dbt.adapters.duckdb.plugins import BasePlugin

DEV_KEY = "census-demo-development-key--not-secret--do-not-use-for-real-data"
BLOCK = 64  # SHA-256 block size


def demo_enabled() -> bool:
    """The demo flag (CENSUS_DEMO=1, set by `census run --demo`): the development key is allowed."""
    return os.environ.get("CENSUS_DEMO", "").strip().lower() in {"1", "true", "yes"}


def pseudonym_key() -> str:
    """CENSUS_PSEUDONYM_KEY, failing closed where the key is used: dbt may be started by the UI, a
    schedule or by hand, not only by `census run`, which checks the same. Also the Spark engine's."""
    key = os.environ.get("CENSUS_PSEUDONYM_KEY")
    if not key:
        raise RuntimeError("CENSUS_PSEUDONYM_KEY is not set: pseudonyms need a secret key")
    if key == DEV_KEY and not demo_enabled():
        raise RuntimeError("CENSUS_PSEUDONYM_KEY is the public development key, allowed only for the "
                           "generated demo (CENSUS_DEMO=1): set a secret key of your own")
    return key


def hmac_pads(key: str) -> tuple[bytes, bytes]:
    import hashlib

    raw = key.encode("utf-8")
    if len(raw) > BLOCK:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in raw), bytes(b ^ 0x5C for b in raw)


def die_with_the_run() -> None:
    """A dbt that a Dagster run started (dagster-dbt sets DAGSTER_DBT_CLI) is killed by the kernel when
    the run's process dies, however it dies (SIGKILL included), so it can neither write on nor hold
    the warehouse's DuckDB lock against the next run. Called before dbt opens the warehouse.

    dagster-dbt offers no hook into its `subprocess.Popen`, so dbt asks for this itself (Linux
    PR_SET_PDEATHSIG). Only for dbt started as a process (the dbt resource with in_process=False, a
    command on a generated copy of the project): dbt inside the run's process dies with it anyway
    (defs/dbt_in_process.py). Had the run's process died already, dbt ends at once: `census run` names its
    own pid in CENSUS_RUN_PID; otherwise an orphan is one adopted by init."""
    import ctypes
    import signal
    import sys

    if os.environ.get("DAGSTER_DBT_CLI") != "true" or not sys.platform.startswith("linux"):
        return
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    run_pid = os.environ.get("CENSUS_RUN_PID", "")
    parent = os.getppid()
    if parent == 1 or (run_pid.isdigit() and parent != int(run_pid)):
        os.kill(os.getpid(), signal.SIGKILL)


_CURSORS: list = []  # the DuckDB cursors dbt runs on in this process (dbt_in_process interrupts them)
_CANCELLED = threading.Event()  # set when the run stops dbt in this process: no new cursor is given


def cancel_builds() -> None:
    """Stop dbt in this process (defs/dbt_in_process.py): the queries running are interrupted and
    a node opening a connection after this is refused one, so it fails (and dbt, fail-fast, stops)."""
    _CANCELLED.set()
    for cursor in list(_CURSORS):
        try:
            cursor.interrupt()
        except Exception:  # noqa: BLE001, S110 - a cursor closed meanwhile has nothing to interrupt
            pass


def allow_builds() -> None:
    _CANCELLED.clear()


def builds_cancelled() -> bool:
    """The run has stopped dbt in this process (cancel_builds): no new statement may start, on
    DuckDB (configure_cursor below) or on Spark (spark_dbt.refuse_statements_once_cancelled)."""
    return _CANCELLED.is_set()


def forget_cursors() -> None:
    _CURSORS.clear()


class Plugin(BasePlugin):
    """Session variables belong to one DuckDB connection, and dbt runs on cursors of it: set
    them on every cursor."""

    def initialize(self, plugin_config) -> None:
        self._pads = tuple(p.hex() for p in hmac_pads(pseudonym_key()))
        die_with_the_run()

    def update_connection_config(self, creds, config: dict) -> None:
        """Memory, threads and spill folder from census_pipeline.lib.duckdb_settings (the same
        settings as every other connection to the warehouse)."""
        from census_pipeline.lib.duckdb_settings import duckdb_settings

        config.update(duckdb_settings(creds.path))

    def configure_cursor(self, cursor):
        if builds_cancelled():
            raise RuntimeError("the run was interrupted: dbt stops here")
        inner, outer = self._pads
        cursor.execute("set variable census_hmac_ipad = unhex(?)", [inner])
        cursor.execute("set variable census_hmac_opad = unhex(?)", [outer])
        _CURSORS.append(cursor)
        return cursor
