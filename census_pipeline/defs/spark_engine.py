"""The Dagster run on Apache Spark (CENSUS_ENGINE=spark; issue 14, docs/scale-out.md).

The same definitions, asset keys, groups and checks as on DuckDB; what the engine changes is where
dbt's models are built. Ingestion writes the restricted raw tables into the DuckDB warehouse as
always (its ledger, quarantine and exactly-once rules are the warehouse's); then each `dbt build`
of the run:

1. (the run's first build only) brings the raw zone up to date with the raw tables dbt reads:
   Parquet by county and upload day, only the partitions that changed rewritten (lib/raw_zone.py);
   and registers them as the `raw.*` tables of the Spark session;
2. runs dbt in the run's process with `--target spark` (dbt-spark's session mode finds the session
   started here: `spark_dbt.start_session`, with the run directory's own warehouse and Derby
   metastore, and the two functions Spark SQL lacks);
3. makes every table this build made on Spark readable in the DuckDB warehouse as a view of the
   same name over its Parquet files (`spark_dbt.attach_spark_tables`; a DuckDB table of that name,
   from an earlier DuckDB run, gives way): the figures of each stage, the asset metadata and the
   publication read Spark's tables through them, with the code that reads DuckDB's own. The
   warehouse then depends on the Spark run directory: moved or deleted, those views break.

The Great Expectations gates of the tables dbt builds run on GX's Spark execution engine, in this
same session (`session`); the raw zone's gate stays on DuckDB, where ingestion writes it.

One Spark session per run process, started at the first build and stopped when the run's
resources are torn down (the JVM ends with the process).
"""

from __future__ import annotations

import os
import threading

from census_pipeline.lib.engine import EngineSettings

_lock = threading.Lock()
_session = None  # the run's Spark session, once a build has started it
_raw_zone_of: str | None = None  # the run whose raw zone the session holds


def java_missing() -> str | None:
    """Why Spark cannot start here, or None: pyspark starts a JVM (Java 17)."""
    import shutil

    if shutil.which("java") or os.environ.get("JAVA_HOME"):
        return None
    return "CENSUS_ENGINE=spark needs Java 17 (apt-get install openjdk-17-jre-headless, or set JAVA_HOME)"


def connect_client_missing() -> str | None:
    """Why a Spark Connect session cannot start here, or None: pyspark's Connect client needs gRPC."""
    try:
        from pyspark.sql.connect.utils import check_dependencies

        check_dependencies("pyspark.sql.connect.session")
    except ImportError as e:
        return f"CENSUS_SPARK_REMOTE needs pyspark's Spark Connect client (pip install 'pyspark[connect]'): {e}"
    return None


def before_build(warehouse: str, settings: EngineSettings, run_id: str, relations: set[tuple[str, str]],
                 log=None) -> None:
    """The run's Spark session (started here the first time) with the raw zone of `warehouse`,
    exported and registered once per run: ingestion is over before the first build, so the
    bulletin's build reads the raw zone the microdata's exported (again, 4.4 s at 1 M persons).
    The folders a stopped run's unfinished writes left where this build's `relations` ((schema,
    name) of its seeds and models) go are removed first (spark_dbt.clear_orphan_locations)."""
    global _raw_zone_of
    from census_pipeline import spark_dbt

    with _lock:
        spark = _started(settings)
        spark_dbt.check_lease(spark)  # (a Spark Connect server another run took over: stop here)
        cleared = spark_dbt.clear_orphan_locations(spark, spark_dbt.warehouse_folder(spark, settings), relations)
        if cleared and log is not None:
            log.info(spark_dbt.orphans_removed(cleared))
        if _raw_zone_of == run_id:
            return
        done = spark_dbt.export_from_warehouse(warehouse, settings)
        spark_dbt.register_raw_zone(spark, settings)
        _raw_zone_of = run_id
    if log is not None:
        log.info(f"{settings.spark_where}: raw zone of {len(done.rows)} tables, {sum(done.rows.values()):,} "
                 f"rows, in {settings.raw_zone}: partitions (a county's upload day; a table without either is one) "
                 f"{done.written:,} written, {done.kept:,} unchanged, {done.removed:,} removed")


def _started(settings: EngineSettings):
    """The run's session, started now if none is (under _lock)."""
    global _session
    from census_pipeline import spark_dbt

    if _session is None:
        _session = spark_dbt.start_session(settings)
        spark_dbt.use_session_for_python_models()  # Splink and pypinyin on this session too
        spark_dbt.refuse_statements_once_cancelled()  # an interrupt stops the build (dbt_in_process)
    return _session


def session(settings: EngineSettings):
    """The run's Spark session, for the quality gates (resources/expectations.py): the one the
    builds use, or started here when the run builds nothing (a gate run alone: the metastore of the
    run directory still knows the tables and the raw zone an earlier build registered; a suite that
    reads a raw table, the listing frame, then reads it as that build exported it, not as the
    warehouse holds it now)."""
    with _lock:
        return _started(settings)


def built_tables(run_results: dict, manifest: dict) -> set[tuple[str, str]]:
    """(schema, table) of every seed and table model this dbt invocation built (status success)."""
    out = set()
    for r in run_results["results"]:
        node = manifest["nodes"].get(r["unique_id"], {})
        kind = node.get("resource_type")
        if r.get("status") == "success" and (kind == "seed" or (kind == "model" and node["config"].get(
                "materialized") in ("table", "incremental"))):
            out.add((node["schema"].lower(), (node.get("alias") or node["name"]).lower()))
    return out


def after_build(con, settings: EngineSettings, tables: set[tuple[str, str]]) -> list[str]:
    """Views in the DuckDB warehouse (connection `con`, writable), in one transaction, over the
    `tables` Spark has just built; a DuckDB table of the same name gives way."""
    from census_pipeline import spark_dbt
    from census_pipeline.defs.ingestion.ingest import atomic

    with atomic(con):
        return spark_dbt.attach_spark_tables(con, spark_dbt.warehouse_folder(_session, settings), tables)


def cancel_jobs() -> None:
    """Cancel the Spark jobs running in the run's session (an interrupt of the run), if any."""
    from census_pipeline import spark_dbt

    session = _session
    if session is not None:
        spark_dbt.cancel_jobs(session)


def view_columns() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(schema, name) -> [(column, Spark type)] of the views in the run's Spark session (its
    catalog: no data read): the relations only Spark holds (its tables are attached)."""
    if _session is None:
        return {}
    out = {}
    for db in _session.catalog.listDatabases():
        if db.name in ("default", "raw"):
            continue
        for table in _session.catalog.listTables(db.name):
            if table.isTemporary or table.tableType != "VIEW":  # (temporary views are listed in every database)
                continue
            columns = _session.catalog.listColumns(f"{db.name}.{table.name}")  # (dbName= is deprecated: a warning)
            out[(db.name.lower(), table.name.lower())] = [(c.name, c.dataType) for c in columns]
    return out


def stop() -> None:
    """Stop the run's Spark session, if a build started one (its JVM ends with the process)."""
    global _session, _raw_zone_of
    with _lock:
        session, _session, _raw_zone_of = _session, None, None
    if session is not None:
        from census_pipeline import spark_dbt

        spark_dbt.stop_session(session)  # (on a Spark Connect server: its lease dropped, SPARK_REMOTE cleared)
