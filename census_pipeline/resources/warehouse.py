"""The DuckDB warehouse, the landing zone and the output folder as Dagster resources.

DuckDB allows one writer process per file, and an open reader blocks writers: connections
are opened per step and closed when it ends, never held between steps (docs/adr/0001).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb


class Warehouse(dg.ConfigurableResource):
    """The census warehouse: one DuckDB file (CENSUS_WAREHOUSE)."""

    path: str

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(self.path, read_only=read_only)
        try:
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


class OutputDir(dg.ConfigurableResource):
    """Where published files go (CENSUS_OUTPUT_DIR)."""

    path: str

    def folder(self, *parts: str) -> Path:
        p = Path(self.path, *parts)
        p.mkdir(parents=True, exist_ok=True)
        return p
