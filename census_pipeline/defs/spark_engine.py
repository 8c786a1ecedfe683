"""The Dagster run on Apache Spark (CENSUS_ENGINE=spark; issue 14, docs/scale-out.md).

The same definitions, asset keys, groups and checks as on DuckDB; what the engine changes is where
dbt's models are built. Ingestion writes the restricted raw tables into the DuckDB warehouse as
always (its ledger, quarantine and exactly-once rules are the warehouse's); then each `dbt build`
of the run:

1. writes the raw tables dbt reads as the raw zone, Parquet partitioned by county
   (lib/raw_zone.py), and registers them as the `raw.*` tables of the Spark session;
2. runs dbt in the run's process with `--target spark` (dbt-spark's session mode finds the session
   started here: `spark_dbt.start_session`, with the run directory's own warehouse and Derby
   metastore, and the two functions Spark SQL lacks);
3. makes every table Spark built readable in the DuckDB warehouse as a view of the same name over
   its Parquet files (`spark_dbt.attach_spark_tables`): the gates, the figures of each stage and
   the publication read Spark's tables through them, with the code that reads DuckDB's own.

One Spark session per run process, started at the first build and stopped when the run's
resources are torn down.
"""

from __future__ import annotations

import os
import threading

from census_pipeline.lib.engine import EngineSettings, engine_settings

_lock = threading.Lock()
_session = None  # the run's Spark session, once a build has started it


def settings_for(warehouse: str) -> EngineSettings:
    """The engine CENSUS_ENGINE names for `warehouse`, read when a run starts (never at import)."""
    return engine_settings(os.environ, warehouse)


def java_missing() -> str | None:
    """Why Spark cannot start here, or None: pyspark starts a JVM (Java 17)."""
    import shutil

    if shutil.which("java") or os.environ.get("JAVA_HOME"):
        return None
    return "CENSUS_ENGINE=spark needs Java 17 (apt-get install openjdk-17-jre-headless, or set JAVA_HOME)"


def before_build(warehouse: str, settings: EngineSettings, log=None) -> None:
    """The raw zone exported from `warehouse` and registered in the run's Spark session (started
    here the first time)."""
    global _session
    from census_pipeline import spark_dbt

    rows = spark_dbt.export_from_warehouse(warehouse, settings)
    with _lock:
        if _session is None:
            _session = spark_dbt.start_session(settings)
            spark_dbt.use_session_for_python_models()  # Splink and pypinyin on this session too
    spark_dbt.register_raw_zone(_session, settings)
    if log is not None:
        log.info(f"Spark ({settings.spark_master}): raw zone of {len(rows)} tables, {sum(rows.values()):,} rows, "
                 f"in {settings.raw_zone}")


def after_build(con, settings: EngineSettings) -> list[str]:
    """Views in the DuckDB warehouse (connection `con`, writable) over every table Spark built."""
    from census_pipeline import spark_dbt

    return spark_dbt.attach_spark_tables(con, settings)


def relation_columns() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(schema, name) -> [(column, Spark type)] of every table and view in the run's Spark session
    but the raw zone's (its catalog: no data read)."""
    if _session is None:
        return {}
    out = {}
    for db in _session.catalog.listDatabases():
        if db.name in ("default", "raw"):
            continue
        for table in _session.catalog.listTables(db.name):
            if table.isTemporary:  # a session's temporary views are listed in every database
                continue
            columns = _session.catalog.listColumns(table.name, db.name)
            out[(db.name.lower(), table.name.lower())] = [(c.name, c.dataType) for c in columns]
    return out


def stop() -> None:
    """Stop the run's Spark session and its JVM, if a build started one."""
    global _session
    with _lock:
        session, _session = _session, None
    if session is not None:
        session.stop()
