"""The GX-on-DuckDB patch is still needed, and it works. When GX fixes the bug upstream the
first test fails: then drop census_pipeline/resources/gx_duckdb_patch.py."""

import duckdb

from census_pipeline.resources import gx_duckdb_patch

# great_expectations is imported in the tests, not here: it takes seconds, and every test worker
# imports every test module to collect it (`make test-fast`)


def _validate(db: str):
    import great_expectations as gx
    from sqlalchemy.pool import NullPool

    ctx = gx.get_context(mode="ephemeral")
    source = ctx.data_sources.add_sql(name="w", connection_string=f"duckdb:///{db}?access_mode=read_only",
                                      kwargs={"poolclass": NullPool})
    batch = source.add_query_asset(name="t", query="select * from t").add_batch_definition_whole_table("all")
    suite = ctx.suites.add(gx.ExpectationSuite(name="s"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(column="x", min_value=0, max_value=10))
    return ctx.validation_definitions.add(gx.ValidationDefinition(name="v", data=batch, suite=suite)).run()


def test_unpatched_gx_cannot_read_duckdb_results_and_the_patch_can(tmp_path):
    from great_expectations.execution_engine.sqlalchemy_execution_engine import SqlAlchemyExecutionEngine

    db = str(tmp_path / "t.duckdb")
    con = duckdb.connect(db)
    con.execute("create table t as select range as x from range(20)")
    con.close()
    gx_duckdb_patch.apply()
    patched = SqlAlchemyExecutionEngine.execute_query
    SqlAlchemyExecutionEngine.execute_query = SqlAlchemyExecutionEngine._census_unpatched_execute_query
    try:
        broken = _validate(db).results[0]
    finally:
        SqlAlchemyExecutionEngine.execute_query = patched
    message = str(broken.exception_info)  # pooled: "list index out of range"; not pooled: "No open result set"
    assert not broken.success and ("No open result set" in message or "list index out of range" in message)
    fixed = _validate(db).results[0]
    assert not fixed.success and fixed.result["unexpected_count"] == 9  # 11..19 are above 10
