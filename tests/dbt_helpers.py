"""Compile dbt Jinja (macros) to SQL with the real project, to test macros in DuckDB."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from census_pipeline.defs.dbt import DBT_DIR, prepare_manifest


@functools.cache
def _manifest():
    """The project as `dbt parse` left it (prepare_manifest: parsed again when a file is newer).
    Handed to dbt, it spares each compile a whole parse (~5 s): the warehouse path is part of the
    profile, so a compile with a warehouse of its own defeats dbt's partial parsing."""
    from dbt.artifacts.schemas.manifest import WritableManifest
    from dbt.contracts.graph.manifest import Manifest

    path = prepare_manifest()  # the manifest path
    return Manifest.from_writable_manifest(WritableManifest.read_and_check_versions(str(path)))


def compile_inline(sql: str, warehouse: str) -> str:
    from dbt.cli.main import dbtRunner

    old = os.environ.get("CENSUS_WAREHOUSE")
    os.environ["CENSUS_WAREHOUSE"] = warehouse
    try:
        # nothing written into the project's target/: its manifest is the one Dagster and the other
        # tests read, and a compile would rewrite it beside them
        res = dbtRunner(manifest=_manifest()).invoke([
            "compile", "--inline", sql, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--quiet",
            "--no-write-json", "--target-path", str(Path(warehouse).parent / "dbt_target")])
    finally:
        os.environ.pop("CENSUS_WAREHOUSE") if old is None else os.environ.__setitem__("CENSUS_WAREHOUSE", old)
    assert res.success, res.exception
    return res.result.results[0].node.compiled_code
