"""Compile dbt Jinja (macros) to SQL with the real project, to test macros in DuckDB."""

from __future__ import annotations

import os

from census_pipeline.defs.dbt import DBT_DIR


def compile_inline(sql: str, warehouse: str) -> str:
    from dbt.cli.main import dbtRunner

    os.environ["CENSUS_WAREHOUSE"] = warehouse
    res = dbtRunner().invoke(["compile", "--inline", sql, "--project-dir", str(DBT_DIR), "--profiles-dir",
                              str(DBT_DIR), "--quiet"])
    assert res.success, res.exception
    return res.result.results[0].node.compiled_code
