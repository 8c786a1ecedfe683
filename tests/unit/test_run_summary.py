"""The one-line causes `census run` prints: the first error, not Dagster's wrapper; gate rules by name."""

import dagster as dg
from dagster._utils.error import SerializableErrorInfo as Err

from census_pipeline.lib.codes import PROJECT_ROOT
from census_pipeline.lib.metadata import markdown_table
from census_pipeline.runner import _cause, _gate_cause, _root_cause, _where


def test_the_first_error_is_the_cause_and_the_projects_frame_is_where():
    ours = f'  File "{PROJECT_ROOT}/census_pipeline/lib/bulletin_html.py", line 93, in hbar_svg\n'
    library = f'  File "{PROJECT_ROOT}/.venv/lib/python3.11/site-packages/x.py", line 7, in f\n'
    first = Err("_duckdb.TransactionException: cannot start a transaction within a transaction\n", [ours], "X")
    then = Err("_duckdb.TransactionException: Current transaction is aborted\n", [library], "X", context=first)
    wrapped = Err("dagster._core.errors.DagsterExecutionStepExecutionError: Error in op\n", [library], "D",
                  cause=then)
    root = _root_cause(wrapped)
    assert root is first
    assert _cause(root) == "TransactionException: cannot start a transaction within a transaction"
    assert _where(root) == "census_pipeline/lib/bulletin_html.py:93"
    assert _where(then) == ""  # a library's frame is not where a person looks


def test_a_failed_gate_names_its_rules():
    table = dg.MetadataValue.md(markdown_table(["rule", "what it checks", "unexpected", "sample keys", "error"],
                                               [("one_head_per_family_household", "x", 3, "", "")]))
    cause = _gate_cause({"expectations_failed": dg.MetadataValue.int(1), "failures": table})
    assert cause.startswith("1 expectation(s) failed: one_head_per_family_household")
