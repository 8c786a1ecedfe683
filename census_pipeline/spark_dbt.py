"""The dbt models on Apache Spark (CENSUS_ENGINE=spark; issue 14, docs/scale-out.md).

dbt-spark's session mode runs Spark inside the dbt process: `CENSUS_ENGINE=spark census run`'s own
process (defs/spark_engine.py, ADR 0012), or this module's `main` for the dbt models alone beside a
DuckDB run. Either starts the Spark session itself (master, warehouse and a Derby metastore of the
run directory's own, from census_pipeline.lib.engine; or, with CENSUS_SPARK_REMOTE, a session of a
Spark Connect server, whose master, warehouse and metastore are its own: ADR 0013), registers the
two functions the models need that Spark SQL lacks, registers the raw zone (Parquet written from the DuckDB warehouse) as the `raw`
source tables, then runs dbt in-process: dbt-spark's `getOrCreate()` finds this session.

dbt-spark submits Python models to Databricks only (its job-cluster and all-purpose-cluster
helpers); in session mode this module adds a third, `session`, and makes it the default: the
compiled model (the model's code and dbt-spark's own `df.write ... saveAsTable`) runs here with
this session as `spark`. So the three dbt Python models (pypinyin, Splink) are the same files on
both engines.

The two functions:
- census_stable_hash(text): DuckDB's hash() (census_pipeline.lib.duckdb_hash), so donors,
  jackknife groups and cell keys are the ones DuckDB draws;
- census_pseudonym(text): HMAC-SHA256 under CENSUS_PSEUDONYM_KEY, hex, as the DuckDB plugin's
  pads compute it. The key is in no SQL text, profile, Spark setting or log; but the function's
  closure holds it, and Spark ships that closure to its Python workers: on `local[...]` processes
  of this machine, on a cluster its executors, over the network (turn on Spark's authentication
  and encryption there: spark.authenticate, spark.network.crypto.enabled, spark.io.encryption.enabled).

    python -m census_pipeline.spark_dbt [--select ...] [--exclude ...]   # warehouse and run directory from the env
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from census_pipeline.lib.codes import DEFAULT_LOCATIONS, PROJECT_ROOT
from census_pipeline.lib.engine import EngineSettings, engine_settings

DBT_DIR = PROJECT_ROOT / "dbt_project"
SPARK_SLICE = ("resource_type:model",)


def spark_conf(settings: EngineSettings) -> dict[str, str]:
    from splink.backends.spark import similarity_jar_location

    derby = f"-Dderby.system.home={settings.spark_dir} -Dderby.stream.error.file={settings.spark_dir / 'derby.log'}"
    return {
        "spark.master": settings.spark_master,
        "spark.app.name": "census-dbt",
        "spark.sql.warehouse.dir": str(settings.spark_warehouse),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={settings.metastore};create=true",
        "spark.driver.extraJavaOptions": derby,
        "spark.driver.memory": os.environ.get("CENSUS_SPARK_DRIVER_MEMORY") or "4g",
        # dagster-dbt reads dbt's structured log from stdout: Spark's progress bar breaks it
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.enabled": "false",
        # a local master talks to itself over loopback only
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        # DuckDB's session time zone on this project's machines; timestamps are cast to dates in it
        "spark.sql.session.timeZone": os.environ.get("TZ") or "UTC",
        # county_code=330106 is a code, not a number
        "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
        # timestamps written as UTC instants (INT96 is Spark's default), so DuckDB reads Spark's
        # tables with the same types as its own
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.shuffle.partitions": os.environ.get("CENSUS_SPARK_SHUFFLE_PARTITIONS") or "4",
        # Spark 4's defaults, pinned: a cluster's own defaults may differ, and with Delta or Hive
        # tables an overwrite keeps old files beside the new (the DuckDB views read every Parquet
        # file of a table's folder); ANSI arithmetic and casts are what the models were checked on
        "spark.sql.sources.default": "parquet",
        "spark.sql.legacy.createHiveTableByDefault": "false",
        "spark.sql.ansi.enabled": "true",
        # a folder's subfolders are listed by the driver unless there are more than this many: at
        # Spark's default (32) a raw table's upload days (~50 per county) were listed by a Spark
        # job of one task per folder, at every query on the table, queued behind whatever model
        # held the cores (a 1 M census: the view over raw.death_lines waited 33.7 s). A country's
        # raw zone (~2,800 county folders) still lists its counties in parallel
        "spark.sql.sources.parallelPartitionDiscovery.threshold": "1024",
        # Splink's string functions (damerau_levenshtein: the ID number's one-edit level)
        "spark.jars": similarity_jar_location(),
    }


# what a session may set for itself (runtime SQL settings): on a Spark Connect server, whose static
# settings (master, warehouse, metastore, jars, memory) are the server's, these are all the run sets
SESSION_CONF = ("spark.sql.session.timeZone", "spark.sql.sources.partitionColumnTypeInference.enabled",
                "spark.sql.parquet.outputTimestampType", "spark.sql.shuffle.partitions", "spark.sql.sources.default",
                "spark.sql.legacy.createHiveTableByDefault", "spark.sql.ansi.enabled",
                "spark.sql.sources.parallelPartitionDiscovery.threshold")
# what pyspark's builder reads to start a Spark Connect session instead of Spark in this process
CONNECT_ENVIRONMENT = ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")


def start_session(settings: EngineSettings):
    """The run's Spark session: Spark in this process (its master, warehouse and metastore from
    `settings`), or, with CENSUS_SPARK_REMOTE, a session of that Spark Connect server with this
    run's session settings, once the run has taken its lease on that server (RunLease;
    ServerInUseError when another run holds it). Either way with the two functions the models need
    and the folder for Splink's work tables. Stop it with stop_session."""
    from pyspark.sql import SparkSession

    settings.spark_dir.mkdir(parents=True, exist_ok=True)
    conf = spark_conf(settings)
    if settings.spark_remote:
        # dbt-spark's session mode (and the Python models') ask SparkSession.builder for their
        # session: with SPARK_REMOTE set that is a Spark Connect builder, which finds this one
        os.environ["SPARK_REMOTE"] = settings.spark_remote
        lease = None
        try:
            spark = SparkSession.builder.remote(settings.spark_remote).getOrCreate()
            try:
                for key in SESSION_CONF:
                    spark.conf.set(key, conf[key])
                lease = RunLease(spark, run_owner())
                lease.take()  # one census run per server: ServerInUseError if another holds it
                _prepare(spark, settings)
            except BaseException:
                try:
                    if lease is not None:  # (drops the view only if it names this run)
                        lease.release()
                finally:
                    spark.stop()
                raise
        except BaseException:
            clear_connect_environment()
            raise
        _leases[id(spark)] = lease
        return spark
    inherited = [name for name in CONNECT_ENVIRONMENT if name in os.environ]  # (pyspark tests presence)
    inherited += ["SPARK_API_MODE=connect"] if os.environ.get("SPARK_API_MODE", "").lower() == "connect" else []
    if inherited:  # pyspark's builder would start a Connect session instead, and fail obscurely later
        raise RuntimeError(f"{', '.join(inherited)} is set in the environment: Spark in this process needs it "
                           "unset (for a Spark Connect server, set CENSUS_SPARK_REMOTE instead)")
    # the workers of the Python functions (the hash, the pseudonym) run this interpreter, which has
    # the project and its packages, not pyspark's default, the python3 first on PATH: a run from
    # outside the project's folder with its venv not activated failed at the first hash
    # ("No module named 'census_pipeline'")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    _prepare(spark, settings)
    return spark


def _prepare(spark, settings: EngineSettings) -> None:
    """The folder of Splink's work tables and the two functions the models need, in `spark`."""
    from census_pipeline.lib.linkage import CHECKPOINTS_CONF, delete_work_files

    # Splink's SparkAPI writes its intermediate tables as Parquet here (break_lineage_method
    # "parquet", its default off Databricks); lib/linkage.py deletes them after each linkage
    # a file: path, so that a server writes it to that file system, not to its default one; not
    # as_uri(), whose percent-encoding (a space, a Chinese character) Hadoop would take literally
    checkpoints = settings.spark_dir / "checkpoints"
    spark.conf.set(CHECKPOINTS_CONF, f"file://{checkpoints}")
    # each linkage deletes only what is in its own folder (a Python model's, model_session); what
    # stopped runs left anywhere else goes now, while the run has the run directory to itself
    # (Derby admits one process; a Spark Connect server, one lease)
    delete_work_files(checkpoints)
    register_functions(spark)


def stop_session(spark) -> None:
    """Stop a session start_session gave: on a Spark Connect server, the run's lease on it is
    dropped first, and what pyspark's builder set to find that server is cleared after."""
    lease = _leases.pop(id(spark), None)
    try:
        if lease is not None:
            lease.release()
    except Exception as e:  # noqa: BLE001 - the run's outcome stands; its lease lapses by itself
        print(f"the run's lease on its Spark Connect server was not dropped ({type(e).__name__}): the server "
              f"stays taken until it lapses, {LEASE_STALE_S // 60} minutes after its last renewal", file=sys.stderr)
    finally:
        try:
            spark.stop()
        finally:
            if is_remote(spark):
                clear_connect_environment()


def check_lease(spark) -> None:
    """Raise if the run no longer holds its lease on its Spark Connect server (another run took it
    over, or this run has not renewed it for LEASE_STALE_S and must assume so): the other run
    rebuilds the same tables. Read from the server each time (a metastore lookup, no Spark job)."""
    lease = _leases.get(id(spark))
    if lease is not None:
        lease.check()


def clear_connect_environment() -> None:
    """Unset what a Spark Connect session set in this process's environment (SPARK_REMOTE, and what
    pyspark's builder adds), so that a later Spark in this process starts as asked."""
    for name in CONNECT_ENVIRONMENT:
        os.environ.pop(name, None)


def cancel_jobs(spark) -> None:
    """Cancel what `spark` is running: its jobs in this process's Spark (the Python models' sessions
    share its context: theirs too), its operations on a Spark Connect server."""
    if is_remote(spark):
        spark.interruptAll()
    else:
        spark.sparkContext.cancelAllJobs()


def is_remote(spark) -> bool:
    """`spark` is a Spark Connect session (a server's), not Spark in this process."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


_connect_models = threading.Lock()  # one Python model at a time through Spark Connect (model_session)


@contextlib.contextmanager
def model_session(relation: str):
    """The Spark session the Python model building `relation` runs in. dbt builds two models at a
    time, but the linkage's work tables, its own and Splink's, are temp views of fixed names that
    each linkage drops at its end: the register's linkage and the survey's in one session would
    read and drop each other's.

    In this process's Spark the model has a session of its own: a `newSession()` of the run's
    (the same context: the metastore is shared, and so are the jobs cancel_jobs stops), with its
    own temp views and functions, the run's session settings, and its own folder for Splink's
    files (`<checkpoints>/<relation>`). Through Spark Connect the model runs in the run's session,
    one Python model at a time (the SQL models still two at a time beside it): a second Connect
    session in the process is not safe with pyspark 4.0.5. Closing any Connect client, which its
    session's garbage collection does too, shuts down the release thread pool that every client
    of the process shares; a run hung so, in its bulletin build, the collector having run in a
    thread that held a gRPC lock the pool's threads waited on."""
    from pyspark.sql import SparkSession

    from census_pipeline.lib.linkage import CHECKPOINTS_CONF

    parent = SparkSession.builder.getOrCreate()
    if is_remote(parent):
        with _connect_models:
            _refuse_if_cancelled()  # (a model waiting here while the run was stopped)
            yield parent
        return
    _refuse_if_cancelled()
    session = parent.newSession()
    for key in SESSION_CONF:
        session.conf.set(key, parent.conf.get(key))
    session.conf.set(CHECKPOINTS_CONF, f"{parent.conf.get(CHECKPOINTS_CONF)}/{relation}")
    register_functions(session)
    yield session


def _refuse_if_cancelled() -> None:
    """Fail the node if the run has stopped dbt in this process (dbt_plugin.builds_cancelled): before
    each statement of the session cursor (refuse_statements_once_cancelled), and before a Python
    model starts (dbt-spark drops its old table through the cursor first, so a model past that
    point as the run was stopped would otherwise start its linkage)."""
    from dbt_common.exceptions import DbtRuntimeError

    from census_pipeline.dbt_plugin import builds_cancelled

    if builds_cancelled():
        raise DbtRuntimeError("the run was interrupted: dbt stops here")


class SessionPythonJobHelper:
    """A dbt Python model in this process's Spark: dbt-spark's compiled code (the model, then
    `df = model(dbt, spark)` and its write of `df` as the table) run with `spark` bound to the
    session model_session gives it, so that dbt may build two models at a time."""

    def __init__(self, parsed_model: dict, credentials) -> None:
        self.relation = f"{parsed_model['schema']}.{parsed_model['alias']}"

    def submit(self, compiled_code: str) -> None:
        code = compile(compiled_code, f"<dbt Python model {self.relation}>", "exec")
        with model_session(self.relation) as spark:
            exec(code, {"__name__": f"dbt_model_{self.relation}", "spark": spark})


def use_session_for_python_models() -> None:
    """dbt-spark's adapter with the `session` submission method, the default in session mode.
    dbt makes the adapter itself and offers no hook to add a helper: its class's two properties
    are wrapped (once per process; a model's own `submission_method` still wins)."""
    from dbt.adapters.spark.impl import SparkAdapter

    if getattr(SparkAdapter, "_census_session_helper", False):
        return
    helpers = SparkAdapter.python_submission_helpers.fget
    default = SparkAdapter.default_python_submission_method.fget
    SparkAdapter.python_submission_helpers = property(lambda self: {**helpers(self), "session": SessionPythonJobHelper})
    SparkAdapter.default_python_submission_method = property(
        lambda self: "session" if self.config.credentials.method == "session" else default(self))
    SparkAdapter._census_session_helper = True


def refuse_statements_once_cancelled() -> None:
    """dbt-spark's session cursor refuses a statement once the run has stopped dbt in this process
    (an interrupt: dbt_plugin.builds_cancelled, the flag DuckDB's cursors read): the node fails and
    dbt, switched to fail-fast, stops. `cancel_jobs` stops the statements already running, but a
    model's next statement would start a new job, and dbt-spark's own cancel does nothing in session
    mode: without this, an interrupted build went on for the 25 s dagster-dbt waits, and the run
    ended with dbt still building. Wrapped once per process, like the adapter above."""
    from dbt.adapters.spark import session as spark_session

    cursor = spark_session.Cursor
    if getattr(cursor, "_census_refuses_when_cancelled", False):
        return
    execute = cursor.execute

    def execute_unless_cancelled(self, sql: str, *parameters):
        _refuse_if_cancelled()
        return execute(self, sql, *parameters)

    cursor.execute = execute_unless_cancelled
    cursor._census_refuses_when_cancelled = True


def register_functions(spark) -> None:
    import hashlib
    import hmac
    from decimal import Decimal

    from pyspark.sql.functions import udf
    from pyspark.sql.types import DecimalType, StringType

    from census_pipeline.dbt_plugin import pseudonym_key
    from census_pipeline.lib.duckdb_hash import duckdb_string_hash

    raw_key = pseudonym_key().encode("utf-8")

    def stable_hash(text):
        h = duckdb_string_hash(text)
        return None if h is None else Decimal(h)

    def pseudonym(text):
        return None if text is None else hmac.new(raw_key, text.encode("utf-8"), hashlib.sha256).hexdigest()

    # An unsigned 64-bit value: decimal(20,0) orders and takes remainders as DuckDB's ubigint does.
    # Declared nondeterministic (it is not) so that Spark keeps a CTE that uses it as one shared
    # relation instead of inlining a copy into every reader (donor imputation's recipients and
    # pools are each read by several CTEs).
    spark.udf.register("census_stable_hash", udf(stable_hash, DecimalType(20, 0)).asNondeterministic())
    spark.udf.register("census_pseudonym", pseudonym, StringType())


def register_raw_zone(spark, settings: EngineSettings) -> list[str]:
    """Every Parquet dataset under the raw zone becomes the external table raw.<name>, read
    recursively: its county and upload-day folders are a layout, not partition columns (the
    columns are in the files, typed; a line's table has its submission's folders only), so Spark
    reads the rows and types DuckDB wrote, a null upload day included."""
    spark.sql("create database if not exists raw")
    names = []
    for folder in sorted(p for p in settings.raw_zone.iterdir() if p.is_dir() and not p.name.startswith(".")):
        spark.sql(f"drop table if exists raw.{folder.name}")
        spark.sql(f"create table raw.{folder.name} using parquet options (recursiveFileLookup 'true') "
                  f"location '{folder}'")
        names.append(folder.name)
    return names


def project_manifest() -> dict:
    """The dbt project's manifest (prepared once per project version: defs/dbt.prepare_manifest)."""
    import json

    from census_pipeline.defs.dbt import prepare_manifest

    return json.loads(prepare_manifest().read_text())


def project_relations(manifest: dict) -> set[tuple[str, str]]:
    """(schema, name), lower case, of every seed and model of the dbt project: what a build may make."""
    return {(n["schema"].lower(), n["alias"].lower()) for n in manifest["nodes"].values()
            if n["resource_type"] in ("seed", "model")}


def export_from_warehouse(warehouse: str, settings: EngineSettings):
    """The raw tables dbt reads (its `raw` sources, from the project's manifest) brought up to date
    in the raw zone, partition by partition (lib/raw_zone.py); returns its raw_zone.Export."""
    import duckdb

    from census_pipeline.lib.raw_zone import export_raw_zone, raw_tables

    manifest = project_manifest()
    sources = {s["name"] for s in manifest["sources"].values() if s["source_name"] == "raw"}
    con = duckdb.connect(warehouse, read_only=True)
    try:
        return export_raw_zone(con, settings.raw_zone, [t for t in raw_tables(con) if t in sources])
    finally:
        con.close()


def dbt(args: list[str], settings: EngineSettings) -> bool:
    from dbt.cli.main import dbtRunner

    from census_pipeline.dbt_plugin import allow_builds
    from census_pipeline.lib.dbt_schedule import longest_chain_first

    longest_chain_first()  # the order a census run's builds follow (lib/dbt_schedule.py)
    use_session_for_python_models()
    refuse_statements_once_cancelled()
    allow_builds()  # (a flag a stopped build of this process left set would refuse every statement)
    common = ["--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--target", "spark",
              "--target-path", str(settings.spark_dir / "dbt_target"), "--log-path", str(settings.spark_dir / "logs")]
    result = dbtRunner().invoke([*args, *common])
    return result.success


def build(select: Sequence[str], settings: EngineSettings, warehouse: str, exclude: Sequence[str] = ()) -> bool:
    """Export the raw zone from `warehouse`, then seed and build `select` but `exclude` on Spark;
    stops the session."""
    export_from_warehouse(warehouse, settings)
    spark = start_session(settings)
    try:
        # what a stopped build's unfinished writes left, as a census run's builds clear it
        # (defs/spark_engine.before_build): any seed or model of the project, since a folder no
        # table owns is never one to keep
        cleared = clear_orphan_locations(spark, warehouse_folder(spark, settings), project_relations(project_manifest()))
        if cleared:
            print(orphans_removed(cleared))
        register_raw_zone(spark, settings)
        run = ["run", "--select", *select, *(["--exclude", *exclude] if exclude else [])]
        return dbt(["seed"], settings) and dbt(run, settings)
    finally:
        stop_session(spark)


# --------------------------------------------------------------------------- one run per server

LEASE_VIEW = "default.census_run_lease"
LEASE_RENEW_S = 60  # a run renews its lease this often
LEASE_STALE_S = 600  # a lease not renewed for this long is a dead run's: the next run takes it over
# the lease's properties: a random id (compared: Spark masks a property value that looks like a
# secret or a URL, and a host name may), the run as people read it, and its last renewal
_ID, _RUN, _RENEWED = "census.owner", "census.run", "census.renewed_at"
_leases: dict[int, RunLease] = {}  # id(session) -> the lease start_session took with it


class ServerInUseError(RuntimeError):
    """Another census run holds the Spark Connect server."""


def run_owner() -> str:
    """How a lease names its run for people: host, process and start (nothing secret or personal)."""
    return f"{socket.gethostname()}, process {os.getpid()}, since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class RunLease:
    """One census run at a time on a Spark Connect server. A run's tables (the `raw` database, the
    models' schemas) are the server's metastore's, and each run points them at its own raw zone and
    rebuilds them: a second run would do it under the first, which would publish a mix of both.

    The lease is a view in the server's metastore (LEASE_VIEW) whose properties hold a random id of
    the run, the run as people read it (host, process, start) and the server's time of its last
    renewal. Metastore entries only: no data file and no Spark job (the server's time is read over
    a local relation), so a renewal never waits behind the run's own stages and nothing is left on
    disk. Creating a view that exists fails (the server's catalog creates one at a time), so of two
    runs starting together one gets it; each then reads the lease back and goes on only if it
    holds its id. The run renews it every LEASE_RENEW_S seconds from a thread and drops it when its
    session stops. A run killed before that holds the server until its lease is LEASE_STALE_S old:
    the next run then drops it and creates its own, which it reads back two seconds later (another
    run may have done the same). A run checks its lease at each build (check_lease) and stops if
    another run has it, or if its own renewals have failed for LEASE_STALE_S (it must then assume
    another has)."""

    def __init__(self, spark, name: str):
        self.spark = spark
        self.name = name  # the run as people read it (run_owner)
        self.id = uuid.uuid4().hex  # as the lease is compared
        self.renewed_at: float | None = None  # this process's clock (time.monotonic) at the last renewal
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _server_time(self) -> int:
        # over a one-row VALUES: Spark folds it to a local relation and runs no job (a bare select
        # would run one, queued behind the run's own stages)
        return int(self.spark.sql("select unix_timestamp() from values (1)").collect()[0][0])

    def _create(self) -> bool:
        from pyspark.errors import AnalysisException

        props = (f"{_sql_string(_ID)} = '{self.id}', {_sql_string(_RUN)} = {_sql_string(self.name)}, "
                 f"{_sql_string(_RENEWED)} = '{self._server_time()}'")
        try:
            self.spark.sql(f"create view {LEASE_VIEW} tblproperties ({props}) as select 1 as held").collect()
            return True
        except AnalysisException as e:
            if e.getCondition() == "TABLE_OR_VIEW_ALREADY_EXISTS":
                return False
            raise

    def holder(self) -> tuple[str, str, int] | None:
        """(id, run, seconds since its last renewal by the server's clock) of the lease on the
        server; None when there is none."""
        from pyspark.errors import AnalysisException

        if not self.spark.catalog.tableExists(LEASE_VIEW):  # (a query of a missing view logs a page)
            return None
        try:
            props = dict(self.spark.sql(f"show tblproperties {LEASE_VIEW}").collect())
        except AnalysisException as e:
            if e.getCondition() == "TABLE_OR_VIEW_NOT_FOUND":
                return None  # dropped meanwhile
            raise
        renewed = props.get(_RENEWED, "")
        age = self._server_time() - int(renewed) if renewed.isdigit() else LEASE_STALE_S
        return props.get(_ID, ""), props.get(_RUN, "(a run that did not say)"), age

    def _holds(self, held: tuple[str, str, int] | None) -> bool:
        """Whether `held` (what holder() read) is this run's lease."""
        return held is not None and held[0] == self.id

    def take(self) -> None:
        """Take the server, or raise ServerInUseError naming the run that has it."""
        for attempt in range(3):
            if self._create():
                if attempt:  # after a takeover: another run may have dropped the same stale lease
                    time.sleep(2)
                held = self.holder()
                if not self._holds(held):
                    raise ServerInUseError("another census run took this Spark Connect server's lease at the "
                                           f"same moment ({held[1] if held else 'and dropped it'})")
                self.renewed_at = time.monotonic()
                self._thread = threading.Thread(target=self._renewing, name="census-spark-lease", daemon=True)
                self._thread.start()
                return
            held = self.holder()
            if held is None:
                continue  # released meanwhile
            _, run, age = held
            if age < LEASE_STALE_S:
                raise ServerInUseError(
                    f"another census run uses this Spark Connect server ({run}; its lease renewed {age} s ago): "
                    "one run per server at a time, its metastore holds the run's tables. Wait for it to end; a "
                    f"run that died without ending holds the server until its lease lapses, in {LEASE_STALE_S - age} s")
            self.spark.sql(f"drop view if exists {LEASE_VIEW}").collect()  # a dead run's
        raise ServerInUseError("another census run took this Spark Connect server's lease at the same moment")

    def renew(self) -> bool:
        """Renew the lease; False if it is no longer this run's (read again after the renewal too:
        an alteration rewrites the view's properties whole, so one that crossed a takeover would
        have written this run's back over the new holder's)."""
        held = self.holder()
        if not self._holds(held):
            return False
        self.spark.sql(f"alter view {LEASE_VIEW} set tblproperties "
                       f"({_sql_string(_RENEWED)} = '{self._server_time()}')").collect()
        held = self.holder()
        if not self._holds(held):
            return False
        self.renewed_at = time.monotonic()
        return True

    def check(self) -> None:
        """Raise ServerInUseError unless the lease is still this run's and renewed recently."""
        held = self.holder()
        if not self._holds(held):
            raise ServerInUseError("this run's lease on its Spark Connect server lapsed and "
                                   + (f"another run took the server ({held[1]})" if held else "was dropped")
                                   + ": that run rebuilds the same tables, so this one stops")
        if self.renewed_at is not None and time.monotonic() - self.renewed_at > LEASE_STALE_S:
            raise ServerInUseError(f"this run has not renewed its lease on its Spark Connect server for over "
                                   f"{LEASE_STALE_S} s: another run may have taken the server, so this one stops")

    def _renewing(self) -> None:
        while not self._stop.wait(LEASE_RENEW_S):
            try:
                if not self.renew():
                    return
            except Exception:  # noqa: BLE001 - a renewal that failed is tried again; check() stops a run
                continue  # whose renewals have failed for LEASE_STALE_S

    def release(self) -> None:
        """Stop renewing; drop the lease if it is still this run's."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        held = self.holder()
        if self._holds(held):
            self.spark.sql(f"drop view if exists {LEASE_VIEW}").collect()


def warehouse_folder(spark, settings: EngineSettings) -> Path:
    """The folder of the tables Spark builds: the run directory's warehouse/ for Spark in this
    process; a Spark Connect server's own `spark.sql.warehouse.dir`, which must be a path of a file
    system this machine mounts too (DuckDB reads the tables' Parquet files from it)."""
    if not settings.spark_remote:
        return settings.spark_warehouse
    return local_path(spark.conf.get("spark.sql.warehouse.dir"), "the Spark Connect server's spark.sql.warehouse.dir")


def local_path(location: str, what: str) -> Path:
    """A path, or a file: one as Spark writes it, as a path of this machine (taken as written: no
    percent-decoding, which Hadoop does not do either); another scheme (hdfs:, s3a:) is refused."""
    for prefix in ("file://localhost/", "file:///", "file:/"):
        if location.startswith(prefix):
            return Path("/" + location[len(prefix):])
    if ":" in location.split("/", 1)[0]:
        raise RuntimeError(f"{what} is {location}: DuckDB reads local files only; put it on storage this machine "
                           "mounts and give it as a path")
    return Path(location)


def table_folder(warehouse: Path, schema: str, table: str) -> Path:
    """Where Spark keeps a managed table's files under its `warehouse` (warehouse_folder)."""
    return warehouse / f"{schema}.db" / table


def orphans_removed(cleared: list[str]) -> str:
    """What clear_orphan_locations did, for a person (a run's log, the standalone runner's output)."""
    return (f"{len(cleared)} folders an unfinished write of a stopped run left in Spark's warehouse removed "
            f"(no table of Spark's owns them): {', '.join(cleared)}")


def clear_orphan_locations(spark, warehouse: Path, relations: set[tuple[str, str]]) -> list[str]:
    """Remove the folders of `relations` ((schema, name), lower case: what a build is about to make)
    under Spark's `warehouse` (warehouse_folder) that belong to no table of Spark's metastore: what a
    table's write left when its run was stopped (Ctrl-C, a crash) before Spark committed it. Spark
    refuses to create a managed table over a folder that is not empty (LOCATION_ALREADY_EXISTS), so
    the rerun of such a run failed at that model. A folder of a table the metastore knows is left
    (dbt drops and rebuilds it), as is every folder outside `relations`. Returns the names cleared."""
    cleared = []
    for schema in sorted({s for s, _ in relations}):
        left = sorted(n for s, n in relations if s == schema and table_folder(warehouse, s, n).exists())
        if not left:
            continue
        known = set()
        if spark.catalog.databaseExists(schema):
            known = {row[1].lower() for row in spark.sql(f"show tables in {schema}").collect()}
        for name in left:
            if name not in known:
                shutil.rmtree(table_folder(warehouse, schema, name))
                cleared.append(f"{schema}.{name}")
    return cleared


def attach_spark_tables(con, warehouse: Path, tables: set[tuple[str, str]]) -> list[str]:
    """Views in the DuckDB connection `con` over `tables` ((schema, table) Spark built, each of
    which must have its Parquet files under Spark's warehouse), named as in the warehouse
    (`bulletin.b1_population`): the publication code reads them as it reads DuckDB's own. `warehouse`
    is Spark's (warehouse_folder). A DuckDB table of the same name (an earlier DuckDB run on this
    warehouse) gives way to the view; a view (an earlier Spark run's) is replaced. Returns the names."""
    names = []
    # (DuckDB refuses `drop table` for a view, even with `if exists`: the second Spark run on a
    # warehouse failed there, on the views the first had made)
    base_tables = set(con.execute("select table_schema, table_name from information_schema.tables "
                                  "where table_type = 'BASE TABLE'").fetchall())
    for schema, table in sorted(tables):
        folder = table_folder(warehouse, schema, table)
        if not any(folder.glob("*.parquet")):
            raise RuntimeError(f"Spark built {schema}.{table} but no Parquet file is in {folder}")
        con.execute(f"create schema if not exists {schema}")
        if (schema, table) in base_tables:
            con.execute(f"drop table {schema}.{table}")
        con.execute(f"create or replace view {schema}.{table} as select * from read_parquet('{folder}/*.parquet')")
        names.append(f"{schema}.{table}")
    return names


def detach_spark_tables(con, relations: set[tuple[str, str]]) -> list[str]:
    """Drop the views attach_spark_tables made (over Spark's Parquet files) among `relations`
    ((schema, name), lower case): the seeds of a DuckDB build. After a Spark run on the warehouse,
    dbt-duckdb met a view where a seed goes ("Cannot seed to ..., it is a view") and the DuckDB run
    failed; a model gives way by itself (dbt-duckdb moves the view aside and swaps its table in, so
    a build that fails leaves the view). Other views (dbt's own on DuckDB) are left. Returns the
    names."""
    dropped = []
    for schema, name, sql in con.execute("""
        select schema_name, view_name, sql from duckdb_views()
        where not internal and database_name = current_database()
    """).fetchall():
        if (schema.lower(), name.lower()) in relations and "read_parquet(" in sql:
            con.execute(f"drop view {schema}.{name}")
            dropped.append(f"{schema}.{name}")
    return sorted(dropped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m census_pipeline.spark_dbt", description=__doc__.splitlines()[0])
    parser.add_argument("--select", nargs="+", default=SPARK_SLICE, help="dbt selectors (default: every model)")
    parser.add_argument("--exclude", nargs="*", default=(), help="dbt selectors left out (default: none)")
    args = parser.parse_args(argv)
    warehouse = os.environ.get("CENSUS_WAREHOUSE") or str(DEFAULT_LOCATIONS["CENSUS_WAREHOUSE"])
    settings = engine_settings(os.environ, warehouse)
    return 0 if build(args.select, settings, warehouse, args.exclude) else 1


if __name__ == "__main__":
    sys.exit(main())
