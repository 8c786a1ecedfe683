"""Ctrl-C (or a stop signal) that lands inside a DuckDB query, turned back into Dagster's interrupt.

While a step runs, Dagster's SIGINT handler raises DagsterExecutionInterruptedError, and a run so
interrupted stops: `census run` says "halted" and exits 130. When the signal lands during a DuckDB
query on the step's own thread (most steps' queries: the registers, the frame, the quarantine and
the ledger, the quality suites' metric queries through SQLAlchemy), DuckDB runs that handler,
stops the query and raises RuntimeError('Query interrupted') in its place: the interrupt is lost.
The step then failed as for any error and the run went on with every step not downstream of it,
to end FAILED, exit 1 (seen on a 150-household run interrupted in `quality__quarantine`).
`interrupt_kept` gives the interrupt back. (Ingestion's upload batches and dbt run their queries
on other threads, which never run signal handlers: there Dagster's own error arrives.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg

DUCKDB_INTERRUPTED = "Query interrupted"  # DuckDB's message for a query a signal (or interrupt()) stopped


def is_interrupted_query(error: BaseException) -> bool:
    """`error` is DuckDB's interrupted query, raised as is or wrapped (SQLAlchemy's DBAPIError keeps
    it as `orig`; a chained exception as its cause or context)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, RuntimeError) and str(e) == DUCKDB_INTERRUPTED:
            return True
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return False


@contextlib.contextmanager
def interrupt_kept() -> Iterator[None]:
    """Around DuckDB queries run on a step's thread: an interrupted query raises Dagster's
    interrupt, so that the run stops as interrupted."""
    try:
        yield
    except Exception as e:
        if is_interrupted_query(e):
            raise dg.DagsterExecutionInterruptedError() from e
        raise
