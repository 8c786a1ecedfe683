"""The DuckDB warehouse, the landing zone and the output folder as Dagster resources.

DuckDB allows one writer process per file, and an open reader blocks writers: connections
are opened per step and closed when it ends, never held between steps (docs/adr/0001).
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from census_pipeline.lib.duckdb_settings import duckdb_settings
from census_pipeline.lib.interrupts import interrupt_kept
from census_pipeline.lib.truth_files import truth_links_path_for


class Warehouse(dg.ConfigurableResource):
    """The census warehouse: one DuckDB file (CENSUS_WAREHOUSE).

    A run holds an exclusive lock on `<warehouse>.lock` from its first step to its last, so a
    second run (CLI, schedule, sensor or UI) waits for it instead of failing on DuckDB's own
    one-writer lock, and two runs never interleave their steps (docs/adr/0001)."""

    path: str
    _lock_file = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path + ".lock", "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            started = time.monotonic()
            if context.log:
                context.log.info(f"waiting for the run that is writing {self.path} to finish")
            print(f"census: waiting for the run that is writing {self.path} to finish", flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
            if context.log:
                context.log.info(f"warehouse free after {time.monotonic() - started:.0f} s")
        self._lock_file = f

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for the step, closed when it leaves; Ctrl-C during one of its queries
        stops the run as interrupted (lib/interrupts.py)."""
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(self.path, read_only=read_only, config=duckdb_settings(self.path))
        try:
            with interrupt_kept():
                yield con
        finally:
            con.close()


class LandingZone(dg.ConfigurableResource):
    """Root of the landing zone (CENSUS_LANDING_DIR): frame/, uploads/, admin/, pes/."""

    path: str

    @property
    def root(self) -> Path:
        root = Path(self.path)
        if not root.is_dir():
            raise dg.Failure(f"landing zone {root} does not exist (set CENSUS_LANDING_DIR)")
        return root

    @property
    def truth_links_path(self) -> Path:
        """Where a generated census's record-to-person truth lies, beside the landing zone
        (`<landing>.truth_links.csv.gz`); a real census has none, so it may not exist."""
        return truth_links_path_for(self.root)


class OutputDir(dg.ConfigurableResource):
    """Where published files go (CENSUS_OUTPUT_DIR)."""

    path: str

    def folder(self, *parts: str) -> Path:
        p = Path(self.path, *parts)
        p.mkdir(parents=True, exist_ok=True)
        return p
