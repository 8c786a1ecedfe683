"""Make Great Expectations' SQL engine work on DuckDB (GX 1.x, duckdb-engine).

GX's SqlAlchemyExecutionEngine.execute_query returns the cursor result after the `with
connection` block has closed the connection; DuckDB discards a result with its connection,
so every metric query reads nothing and every expectation fails with "list index out of
range" (GX issues #10738, #11579). This patch buffers the rows inside the connection, and gives
back Ctrl-C met inside a metric query (lib/interrupts.py).

Drop this module when GX reads results before closing the connection (checked by
tests/unit/test_gx_patch.py: it fails when the patch is no longer needed).
"""

from __future__ import annotations

import threading

_applied = False
_lock = threading.Lock()  # GX may be imported in the background at run start (expectations.py)


def apply() -> None:
    global _applied
    with _lock:
        if _applied:
            return
        from great_expectations.execution_engine.sqlalchemy_execution_engine import SqlAlchemyExecutionEngine

        from census_pipeline.lib.interrupts import interrupt_kept

        def execute_query(self, query):
            # (interrupt_kept: Ctrl-C during a metric query stops the run, where GX would have
            # recorded DuckDB's interrupted query as the expectation's error and gone on)
            with interrupt_kept(), self.get_connection() as connection:
                result = self._execute_query_with_recovery(connection, query)
                if getattr(result, "returns_rows", False):
                    return result.freeze()()  # rows buffered while the connection is still open
                return result

        SqlAlchemyExecutionEngine._census_unpatched_execute_query = SqlAlchemyExecutionEngine.execute_query
        SqlAlchemyExecutionEngine.execute_query = execute_query
        _applied = True
