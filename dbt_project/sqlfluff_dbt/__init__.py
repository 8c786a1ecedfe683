"""What sqlfluff's jinja templater lacks of dbt for this project's models (`.sqlfluff`, `make lint`).

sqlfluff's dbt builtins give `ref`, `source`, `config`, `is_incremental`, `this` and a `var` that
returns a placeholder. The models also call `adapter.dispatch` (macros/portable.sql and friends),
`dbt.type_string()`, and do arithmetic on vars (`var('jackknife_groups')`): those are here, with
the vars read from dbt_project.yml, so a lint renders the same SQL a build compiles (DuckDB
branch of every dispatch) and a var neither declared nor defaulted fails the lint as it fails dbt.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import yaml
from jinja2 import pass_context
from jinja2.exceptions import UndefinedError
from jinja2.utils import missing

_PROJECT_VARS = yaml.safe_load((Path(__file__).parents[1] / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
_NO_DEFAULT = object()


def var(name: str, default=_NO_DEFAULT):
    """dbt's `var`: the project's value, else the default given, else an error."""
    if name in _PROJECT_VARS:
        return _PROJECT_VARS[name]
    if default is _NO_DEFAULT:
        raise UndefinedError(f"dbt var {name!r} is not in dbt_project.yml and has no default")
    return default


@pass_context
def _dispatch(context, macro_name: str, macro_namespace: str | None = None):
    """`adapter.dispatch` for dbt-duckdb: `duckdb__<name>`, else `default__<name>`."""
    for prefix in ("duckdb__", "default__"):
        macro = context.resolve_or_missing(prefix + macro_name)
        if macro is not missing:
            return macro
    raise UndefinedError(f"no duckdb__ or default__ implementation of macro {macro_name!r}")


adapter = SimpleNamespace(dispatch=_dispatch, quote=lambda name: f'"{name}"')  # dbt-duckdb quotes with "
dbt = SimpleNamespace(type_string=lambda: "varchar")
