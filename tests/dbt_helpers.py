"""dbt for the tests, on the project as `census prepare` parsed it: compile Jinja (macros) to SQL to
test macros in DuckDB, build models into a warehouse of a test's own, read a var."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from unittest import mock

from census_pipeline.defs.dbt import DBT_DIR, prepare_manifest


@functools.cache
def manifest():
    """The project as `dbt parse` left it (prepare_manifest: parsed again when a file is newer).
    Handed to dbt, it spares each compile or build a whole parse (~5 s): the warehouse path is part
    of the profile, so a command with a warehouse of its own defeats dbt's partial parsing."""
    from dbt.artifacts.schemas.manifest import WritableManifest
    from dbt.contracts.graph.manifest import Manifest

    path = prepare_manifest()  # the manifest path
    return Manifest.from_writable_manifest(WritableManifest.read_and_check_versions(str(path)))


def compile_inline(sql: str, warehouse: str) -> str:
    from dbt.cli.main import dbtRunner

    with mock.patch.dict(os.environ, {"CENSUS_WAREHOUSE": warehouse}):
        # nothing written into the project's target/: its manifest is the one Dagster and the other
        # tests read, and a compile would rewrite it beside them
        res = dbtRunner(manifest=manifest()).invoke([
            "compile", "--inline", sql, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--quiet",
            "--no-write-json", "--target-path", str(Path(warehouse).parent / "dbt_target")])
    assert res.success, res.exception
    return res.result.results[0].node.compiled_code


def warehouse_file_name() -> str:
    """The name a warehouse file needs for `manifest()` to fit it: the parsed project's relations
    name their database after the warehouse file it was parsed with (`w` for w.duckdb)."""
    return f"{next(n.database for n in manifest().nodes.values() if n.resource_type == 'model')}.duckdb"


def _invoke(warehouse: Path, args: list[str]):
    """dbt `args` on the prepared manifest against `warehouse` (named `warehouse_file_name()`), in
    this process. dbt-duckdb keeps its database open in the process after the command, for the
    next one: closed here (and so checkpointed) before the test reads or copies the file, as the
    run's builds close it."""
    from dbt.cli.main import dbtRunner

    from census_pipeline.defs.dbt_in_process import close_duckdb

    assert warehouse.name == warehouse_file_name(), (warehouse, warehouse_file_name())
    with mock.patch.dict(os.environ, {"CENSUS_WAREHOUSE": str(warehouse)}):
        try:
            return dbtRunner(manifest=manifest()).invoke(
                [*args, "--quiet", "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR)])
        finally:
            close_duckdb()


def build_models(warehouse: Path, *selection: str, target_path: Path) -> None:
    """`dbt build` of the selection's models into `warehouse`, without the data and unit tests (the
    shared materialization and test_dbt_unit_tests.py run those). dbt writes what it writes under
    `target_path`: the project's own target/ is read by the other tests."""
    res = _invoke(warehouse, ["build", "--select", *selection, "--exclude", "test_type:data", "test_type:unit",
                              "--target-path", str(target_path)])
    assert res.success, res.exception or [(r.node.name, r.message) for r in res.result if r.status != "success"]


def dbt_var(name: str):
    """A var of dbt_project.yml, as the models read it."""
    import yaml

    return yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"][name]


def run_unit_tests(warehouse: Path, target_path: Path):
    """`dbt test` of every dbt unit test (the rules on hand-written rows) against `warehouse`, whose
    built tables give the inputs' column types; the results."""
    return _invoke(warehouse, ["test", "--select", "test_type:unit", "--target-path", str(target_path)])
