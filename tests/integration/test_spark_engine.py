"""The Spark engine (issue 14): `CENSUS_ENGINE=spark census run` on the shared test census, the
whole Dagster run as a user starts it (ingestion, gates, every dbt model on dbt-spark, the three
Python models (pypinyin, Splink's SparkAPI) among them, the publication from Spark's tables), gives
the same tables cell by cell and publishes the same CSV bytes as the DuckDB run did; its quality
gates ran on GX's Spark execution engine and found what DuckDB's found.

Two runs, one for each way a run reaches Spark, each checked against the DuckDB run:
- through a server of its own, as on a cluster: a Spark Connect server (census_pipeline.spark_connect,
  `local[2]`, its own warehouse and metastore) that admits only clients with its token, and the run
  its client (CENSUS_SPARK_REMOTE);
- with Spark inside the run's process, the default (no CENSUS_SPARK_REMOTE): `local[2]`, with the
  warehouse and a Derby metastore in the run directory. It is a rerun, of one stopped by Ctrl-C
  while dbt was building on Spark (which must stop at once, its JVM with it).
A DuckDB run on the warehouse the second left then publishes the DuckDB run's bytes again.
Each run is a process of its own, on a copy of the DuckDB run's warehouse (as an office would switch
engines), with a Spark run directory (raw zone, Splink's work tables) of the test's own. The two
are units of work of their own (`xdist_group`): in `make test` they run side by side, one on each
worker, each beside the shared DuckDB run it needs (the in-process one's worker makes it again).
A Spark run over the views an earlier Spark run left is tested on its own (tests/unit/test_spark_attach.py).
Java comes from Debian when missing (CI)."""

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from census_pipeline.cli import INTERRUPTED
from census_pipeline.defs.publication.assets import PUBLISHED_TABLES
from census_pipeline.defs.quality.gates import GATES
from census_pipeline.spark_connect import running
from tests.builders import CENSUS, bulletin_folder, census_cli, debian_tool, run_with_deadline, warehouse_path
from tests.builders import fault_injection as fi  # watch runs and their processes

# Java and a Spark server (slow, not in `make test-fast`). The Connect run's tests are one unit with
# the shared run, so that the module's server starts once; the in-process run's are another
# (IN_PROCESS below). Fixtures included, a test run alone may set up the server, the Connect run,
# the interrupted run and its rerun: ~10 min idle here, 240 + 840 + 660 + 840 s at worst
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("built"), pytest.mark.timeout(2700)]

# the published tables and the chart's, the microdata marts (pseudonym HMAC, ID check), the edits
# and donor imputation, where the engines' SQL differs most; the quality tables (the scorecard's
# late-submission instant, progress's days on Shanghai's clocks), the register comparisons and
# their matching, the resolved duplicates and the survey's census side; the three Python models
# (pinyin keys; Splink's links, match probabilities and weights compared exactly, as every other
# double) and what rests on them: linkage's keys and residues, the register links and their marts,
# follow-up, the survey's matches and estimates
COMPARED = [("microdata", "persons"), ("microdata", "households"), ("intermediate", "int_person_edit_items"),
            *(("bulletin", name) for name in [*PUBLISHED_TABLES, "chart_age_pyramid"]),
            *(("quality", name) for name in ["coverage", "enumerator_scorecard", "progress"]),
            ("linkage", "births_comparison"), ("linkage", "deaths_comparison"),
            *(("intermediate", name) for name in ["int_registrants_matched", "int_duplicates_resolved", "int_pes_census"]),
            *(("intermediate", name) for name in [
                "int_name_pinyin", "int_linkage_register", "int_linkage_census", "int_linkage_id_links",
                "int_linkage_register_residue", "int_linkage_census_residue", "int_linkage_probabilistic",
                "int_register_links", "int_pes_persons", "int_pes_id_matches", "int_pes_persons_residue",
                "int_pes_probabilistic"]),
            *(("linkage", name) for name in ["hukou_coverage", "linkage_quality"]),
            ("linkage_audit", "register_links"),
            *(("quality", name) for name in ["follow_up", "pes_matches", "pes_estimates"])]
# DuckDB sums integers into a HUGEINT, Spark into a BIGINT or DECIMAL(p,0): an integer either way,
# written alike (the CSVs below); every other type must be the same
INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}


def _kind(duckdb_type) -> str:
    name = str(duckdb_type)
    return "an integer" if name in INTEGER_TYPES or re.fullmatch(r"DECIMAL\(\d+,0\)", name) else name


def _value(v):
    return int(v) if isinstance(v, Decimal) and v == v.to_integral_value() and v.as_tuple().exponent == 0 else v


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """A Spark Connect server on 127.0.0.1 with a token of its own (census_pipeline.spark_connect:
    it dies with the test worker, so a worker killed mid-test leaves no 4 GB JVM behind); stopped
    at the end."""
    debian_tool("java", "openjdk-17-jre-headless")
    folder = tmp_path_factory.mktemp("spark_connect")
    token = secrets.token_hex(16)
    with running(folder, token) as server:
        # `client_env`: a process's environment to connect to it (pyspark reads the token there)
        yield SimpleNamespace(url=server.url, token=token, folder=folder,
                              client_env=dict(os.environ, SPARK_CONNECT_AUTHENTICATE_TOKEN=token))


def spark_run_folder(folder: Path, built, small_census, connect_server=None, warehouse: Path | None = None) -> dict:
    """`folder` made ready for `CENSUS_ENGINE=spark census run` through the test's server (with none,
    Spark inside the run's process), on a copy of `warehouse`, by default the DuckDB run's (its
    ledger reads no file again, and Spark's tables replace DuckDB's, the analysis tables becoming
    views over Spark's Parquet); the run's environment."""
    (folder / "dagster_home").mkdir()
    shutil.copyfile(warehouse or warehouse_path(built[1]), folder / "w.duckdb")
    if connect_server is None:
        base = {k: v for k, v in os.environ.items()
                if k not in ("CENSUS_SPARK_REMOTE", "SPARK_CONNECT_AUTHENTICATE_TOKEN")}
    else:
        base = dict(connect_server.client_env, CENSUS_SPARK_REMOTE=connect_server.url)
    return dict(base, CENSUS_LANDING_DIR=str(small_census[0]),
                CENSUS_WAREHOUSE=str(folder / "w.duckdb"), CENSUS_OUTPUT_DIR=str(folder / "out"),
                DAGSTER_HOME=str(folder / "dagster_home"), CENSUS_ENGINE="spark", CENSUS_SPARK_DIR=str(folder / "spark"),
                CENSUS_LOG_LEVEL="INFO", PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])


def _spark_census_run(folder: Path, env: dict, how: str, spark_warehouse: Path, cwd: Path | None = None):
    """`census run` in `env` (spark_run_folder) and `cwd`, which must succeed; the warehouse opened
    to read the views of Spark's tables it was left with. `spark_warehouse`: where Spark wrote them."""
    started = time.monotonic()
    run = census_cli(["run"], env, timeout=840, cwd=cwd)
    print(f"CENSUS_ENGINE=spark census run {how}: {time.monotonic() - started:.0f} s")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    spark = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    attached = [f"{s}.{t}" for s, t in spark.execute(
        "select table_schema, table_name from information_schema.tables where table_type = 'VIEW'").fetchall()]
    return SimpleNamespace(con=spark, attached=attached, run=run, folder=folder, spark_warehouse=spark_warehouse)


@pytest.fixture(scope="module")
def spark_run(built, small_census, connect_server, tmp_path_factory):
    """The run through the test's Spark Connect server."""
    folder = tmp_path_factory.mktemp("spark_run")
    env = spark_run_folder(folder, built, small_census, connect_server)
    run = _spark_census_run(folder, env, "through Spark Connect", connect_server.folder / "warehouse")
    yield run
    run.con.close()


def _ctrl_c_during_the_spark_build(env: dict, folder: Path) -> SimpleNamespace:
    """`census run` in `env` and `folder`, stopped as Ctrl-C in a terminal stops it (SIGINT to its
    process group) once dbt is building on Spark: a table's folder in the run directory's Spark
    warehouse (the first is a code list's seed: the stop comes as early as a build can be stopped,
    and the test waits no longer than it must). Its exit code, output, how long it took to stop (None: never
    signalled), which of its processes (the JVM among them) outlived it, and the runs' statuses."""
    proc = subprocess.Popen(["env", "--default-signal=INT,TERM", CENSUS, "run"], env=env, cwd=folder,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True),
               threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)]
    for t in readers:
        t.start()
    warehouse = folder / "spark" / "warehouse"
    stopped_after, children = None, {}
    try:
        deadline = time.monotonic() + 600
        while proc.poll() is None and time.monotonic() < deadline and not any(
                table.is_dir() for schema in warehouse.glob("*.db") for table in schema.iterdir()):
            time.sleep(0.2)
        if proc.poll() is None and time.monotonic() < deadline:
            children = fi.descendants(proc.pid)
            signalled = time.monotonic()
            os.killpg(proc.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=60)
            stopped_after = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for t in readers:
        t.join(timeout=5)
    return SimpleNamespace(returncode=proc.returncode, stopped_after=stopped_after, out="".join(out),
                           err="".join(err), survivors=fi.survivors(children),
                           statuses=list(fi.run_statuses(folder / "dagster_home").values()))


IN_PROCESS = "spark_in_process"  # the unit of work of the tests of the run with Spark in its process


@pytest.fixture(scope="module")
def in_process_run(built, small_census, tmp_path_factory):
    """The run with Spark inside its own process (the default), started as `<venv>/bin/census run`
    from a folder outside the project with the venv not activated (not on PATH): the Python
    functions' workers must find the project's Python all the same. A first run was stopped by
    Ctrl-C while dbt was building on Spark (`interrupted`): the run every test checks is the rerun."""
    folder = tmp_path_factory.mktemp("spark_in_process")
    env = spark_run_folder(folder, built, small_census)
    venv = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p and p != venv)
    env.pop("PYSPARK_PYTHON", None)
    env.pop("VIRTUAL_ENV", None)
    interrupted = _ctrl_c_during_the_spark_build(env, folder)
    # what a write cut short by the stop leaves (where it is cut is a matter of timing; CI met it once,
    # stop 29): a table's folder of unfinished files that no table owns, which Spark refuses to build over
    cut_short = folder / "spark" / "warehouse" / "intermediate.db" / "int_persons_edited"
    interrupted.cut_short, interrupted.planted = cut_short, not cut_short.exists()
    if interrupted.planted:
        (cut_short / "_temporary" / "0").mkdir(parents=True)
        (cut_short / "_temporary" / "0" / "part-00000.snappy.parquet").write_bytes(b"PAR1 cut short")
    run = _spark_census_run(folder, env, "with Spark in its process, after an interrupted one",
                            folder / "spark" / "warehouse", cwd=folder)
    run.interrupted = interrupted
    yield run
    run.con.close()


@pytest.fixture(params=["connect", pytest.param("in process", marks=pytest.mark.xdist_group(IN_PROCESS))])
def any_run(request):
    """Each of the two Spark runs, for what both must give alike."""
    return request.getfixturevalue("spark_run" if request.param == "connect" else "in_process_run")


def _rows(con, relation: str) -> list[tuple]:
    return sorted((tuple(map(_value, r)) for r in con.execute(f"select * from {relation}").fetchall()), key=repr)


@pytest.mark.parametrize(("schema", "table"), COMPARED, ids=[t for _, t in COMPARED])
def test_spark_table_equals_duckdb_cell_by_cell(built, any_run, schema, table):
    _, duck, _ = built
    spark, attached = any_run.con, any_run.attached
    assert f"{schema}.{table}" in attached, f"Spark built no {schema}.{table}"
    want, got = duck.sql(f"select * from {schema}.{table}"), spark.sql(f"select * from {schema}.{table}")
    assert got.columns == want.columns
    assert [_kind(t) for t in got.types] == [_kind(t) for t in want.types]
    want_rows, got_rows = _rows(duck, f"{schema}.{table}"), _rows(spark, f"{schema}.{table}")
    assert want_rows, f"{schema}.{table} is empty: nothing compared"
    assert len(got_rows) == len(want_rows)
    for w, g in zip(want_rows, got_rows, strict=True):
        assert g == w


def test_spark_run_publishes_the_bytes_duckdb_published(built, any_run):
    """The Spark run's own publication step wrote the bulletin's CSVs from Spark's tables: byte for
    byte those of the DuckDB run; and every asset and check of the graph ran, none skipped."""
    out = any_run.run.stdout
    assert "census run succeeded" in out and "steps failed: 0" in out and "not run" not in out, out[-3000:]
    assert "tables built on Spark, readable in the warehouse as views" in out
    published = any_run.folder / "out" / "bulletin"
    for name in PUBLISHED_TABLES:
        assert (published / f"{name}.csv").read_bytes() == (bulletin_folder(built) / f"{name}.csv").read_bytes(), name


def test_splink_s_work_files_are_gone_after_the_run(any_run):
    """Splink wrote its work tables (names and birth dates among their columns) as Parquet in the
    run directory's checkpoints/ (through the server, or from the run's own Spark); the run deleted
    every one."""
    checkpoints = any_run.folder / "spark" / "checkpoints"
    assert checkpoints.is_dir()  # Spark wrote there (a file: folder of the run directory)
    assert not list(checkpoints.rglob("__splink__*"))


def test_what_the_gates_and_the_publication_read_is_spark_s(any_run):
    """The warehouse's analysis tables are views over the Parquet files Spark wrote in its warehouse
    (the server's, or the run directory's), DuckDB's tables of the same names gone: what the gates,
    the figures and the publication read is Spark's output, not DuckDB's."""
    spark_dir = str(any_run.spark_warehouse)
    definitions = dict(((f"{s}.{t}", sql) for s, t, sql in any_run.con.execute(
        "select schema_name, view_name, sql from duckdb_views() where not internal").fetchall()))
    for schema, table in [("microdata", "persons"), ("bulletin", "b1_population"), ("quality", "pes_estimates"),
                          ("linkage", "linkage_quality")]:
        assert spark_dir in definitions[f"{schema}.{table}"], definitions.get(f"{schema}.{table}")
    tables = any_run.con.execute("select table_schema from information_schema.tables "
                                   "where table_type = 'BASE TABLE' group by all").fetchall()
    assert {s for (s,) in tables} <= {"raw", "quality"}, tables  # ingestion's own (raw, the ledger, quarantine)


def _validations(out: Path) -> dict[str, dict]:
    """Each suite's newest stored validation result (stripped: counts only) under out/quality."""
    newest: dict[str, Path] = {}
    for path in sorted((out / "quality" / "validations").rglob("*.json"), key=lambda p: p.parent.name):
        newest[path.relative_to(out / "quality" / "validations").parts[0]] = path
    return {suite: json.loads(path.read_text(encoding="utf-8")) for suite, path in newest.items()}


def test_the_gates_of_spark_s_tables_ran_on_gx_s_spark_engine_with_duckdb_s_findings(built, any_run):
    """Every suite of a table dbt builds was validated by GX's Spark execution engine on Spark's own
    tables (its batch is a Spark DataFrame, not a query over the warehouse), and found what the
    DuckDB run's did: each expectation passed or failed alike, over as many rows, with the same
    counts. The raw zone's suite, ingestion's own table, stayed on DuckDB."""
    duck = _validations(warehouse_path(built[1]).parent / "out")
    spark = _validations(any_run.folder / "out")
    gates = {g.suite: g for g in GATES}
    assert set(spark) == set(duck) == set(gates)
    compared = 0
    for suite, result in spark.items():
        source = result["meta"]["active_batch_definition"]["datasource_name"]
        assert source == ("spark" if gates[suite].built_by_dbt else "warehouse"), (suite, source)
        assert duck[suite]["meta"]["active_batch_definition"]["datasource_name"] == "warehouse"
        assert len(result["results"]) == len(duck[suite]["results"]) > 0, suite
        for got, want in zip(result["results"], duck[suite]["results"], strict=True):
            assert got["expectation_config"]["type"] == want["expectation_config"]["type"]
            assert (got["success"], got["result"]) == (want["success"], want["result"]), (suite, got, want)
            compared += "element_count" in got["result"] and got["result"]["element_count"] > 0
    assert compared >= 10  # column expectations over rows, not only empty or aggregate ones


@pytest.mark.xdist_group(IN_PROCESS)
def test_ctrl_c_stops_a_spark_build_at_once_and_the_rerun_finishes(in_process_run):
    # the rerun's tables and bytes are those every test of `any_run` compares with DuckDB's
    stopped = in_process_run.interrupted
    said = stopped.out[-3000:] + stopped.err[-3000:]
    assert stopped.stopped_after is not None, f"dbt never started building on Spark: {said}"
    assert stopped.returncode == 130, said
    # dbt stopped building (its statements refused, Spark's jobs cancelled), rather than being left
    # to build on while dagster-dbt waited 25 s for it and then let the run end (the JVM with it)
    assert stopped.stopped_after < 15, f"{stopped.stopped_after:.1f} s from Ctrl-C to the end of the run"
    assert "dbt process terminated with exit code `None`" not in stopped.out, said
    assert INTERRUPTED in stopped.err and not any(t in said for t in ("Traceback", 'File "')), said
    assert stopped.survivors == {}  # Spark's JVM went with the run
    assert stopped.statuses == ["FAILURE"]  # not left STARTED
    assert sorted(fi.run_statuses(in_process_run.folder / "dagster_home").values()) == ["FAILURE", "SUCCESS"]
    # the folder of a write cut short (planted: the stop came before that model) gave way to the table
    assert stopped.planted, "the stop came after int_persons_edited was built: nothing cut short to clear"
    assert not (stopped.cut_short / "_temporary").exists() and any(stopped.cut_short.glob("*.parquet"))


@pytest.mark.xdist_group(IN_PROCESS)
def test_a_duckdb_run_after_a_spark_run_builds_in_duckdb_and_publishes_the_same_bytes(built, in_process_run,
                                                                                      small_census, tmp_path):
    """An office going back to DuckDB on the warehouse a Spark run left: the views over Spark's
    tables give way to DuckDB's own tables (dbt-duckdb does not seed over a view: that run failed)."""
    shutil.copyfile(in_process_run.folder / "w.duckdb", tmp_path / "w.duckdb")
    (tmp_path / "dagster_home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENSUS_SPARK")}
    env.update(CENSUS_LANDING_DIR=str(small_census[0]), CENSUS_WAREHOUSE=str(tmp_path / "w.duckdb"),
               CENSUS_OUTPUT_DIR=str(tmp_path / "out"), DAGSTER_HOME=str(tmp_path / "dagster_home"),
               CENSUS_ENGINE="duckdb", CENSUS_LOG_LEVEL="INFO")
    run = census_cli(["run"], env, timeout=600)
    assert run.returncode == 0 and "steps failed: 0" in run.stdout, run.stdout[-4000:] + run.stderr[-2000:]
    assert "views over an earlier Spark run's code lists dropped" in run.stdout, run.stdout[-3000:]
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        over_parquet = con.execute("select schema_name || '.' || view_name from duckdb_views() "
                                   "where not internal and sql like '%read_parquet(%'").fetchall()
        assert over_parquet == []
        assert con.execute("select table_type from information_schema.tables "
                           "where table_schema = 'microdata' and table_name = 'persons'").fetchall() == [("BASE TABLE",)]
    for name in PUBLISHED_TABLES:
        assert (tmp_path / "out" / "bulletin" / f"{name}.csv").read_bytes() == \
            (bulletin_folder(built) / f"{name}.csv").read_bytes(), name


@pytest.mark.xdist_group(IN_PROCESS)
def test_spark_in_the_run_s_process_is_the_run_directory_s(in_process_run):
    """With no server named the run starts Spark itself, on this machine's two cores, says so, and
    keeps its metastore (Derby) and the tables it builds in its run directory. (Its JVM is a child
    in the run's process group, which the test's runner ends with the run in any case: whether it
    would outlive the run is not seen here.)"""
    out = in_process_run.run.stdout
    assert "Spark local[2]:" in out and "Spark Connect" not in out, out[-3000:]
    run_dir = in_process_run.folder / "spark"
    assert (run_dir / "metastore_db").is_dir()
    assert list((run_dir / "warehouse" / "bulletin.db" / "b1_population").glob("*.parquet"))


CONNECT_PROBE = """
import sys
from pyspark.sql import SparkSession
SparkSession.builder.remote(sys.argv[1]).getOrCreate().sql("select 1").collect()
print("admitted")
"""


@pytest.mark.parametrize("token", [None, "not-the-token"], ids=["no token", "a wrong token"])
def test_the_server_admits_no_client_without_its_token(connect_server, token):
    env = {k: v for k, v in os.environ.items() if k != "SPARK_CONNECT_AUTHENTICATE_TOKEN"}
    if token:
        env["SPARK_CONNECT_AUTHENTICATE_TOKEN"] = token
    probe = run_with_deadline([sys.executable, "-c", CONNECT_PROBE, connect_server.url], env, timeout=120)
    assert probe.returncode != 0 and "admitted" not in probe.stdout
    assert re.search(r"UNAUTHENTICATED|authentication|token", probe.stderr, re.I), probe.stderr[-2000:]
    env["SPARK_CONNECT_AUTHENTICATE_TOKEN"] = connect_server.token  # the probe itself works
    assert "admitted" in run_with_deadline([sys.executable, "-c", CONNECT_PROBE, connect_server.url], env,
                                           timeout=120).stdout


LEASE_PROBE = """
import json, sys, time
from pyspark.sql import SparkSession
from census_pipeline import spark_dbt
spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
out = {}
first, second, third = (spark_dbt.RunLease(spark, name) for name in ("run A", "run B", "run C"))
first.take()
out["held"] = spark.catalog.tableExists(spark_dbt.LEASE_VIEW)
try:
    second.take()
    out["second"] = "took the server"
except spark_dbt.ServerInUseError as e:
    out["second"] = str(e)
out["first_renews"] = first.renew()
first.check()  # still its own: no error
first._stop.set()  # its renewals stop, and have failed for too long:
first.renewed_at = time.monotonic() - spark_dbt.LEASE_STALE_S - 1
try:
    first.check()
    out["first_unrenewed"] = "went on"
except spark_dbt.ServerInUseError as e:
    out["first_unrenewed"] = str(e)
first.release()
out["after_release"] = first.holder()
second.take()
second._stop.set()  # its run dies: no more renewals, and its lease ages past the limit
aged = int(spark.sql("select unix_timestamp()").collect()[0][0]) - spark_dbt.LEASE_STALE_S - 60
spark.sql(f"alter view {spark_dbt.LEASE_VIEW} set tblproperties ('census.renewed_at' = '{aged}')").collect()
third.take()
out["taken_over_by"] = third.holder()[1]
out["second_renews"] = second.renew()
try:
    second.check()
    out["second_check"] = "went on"
except spark_dbt.ServerInUseError as e:
    out["second_check"] = str(e)
second.release()  # not its lease any more: left alone
out["after_second_release"] = third.holder()[1]
third.release()
out["at_end"] = third.holder()
# a run whose name Spark masks when the lease is read (a host name with "url" or "token" in it)
masked = spark_dbt.RunLease(spark, "curly-url-token-host, process 1")
masked.take()
out["masked_checks"] = (masked.check(), masked.renew())[1]
masked.release()
out["masked_released"] = masked.holder()
print(json.dumps(out))
"""


def test_one_census_run_at_a_time_on_a_connect_server(connect_server):
    """A run's lease on the server (spark_dbt.RunLease): a second run is refused, with the first
    named, while the first holds it; free once released; a dead run's lease, not renewed for
    LEASE_STALE_S, is taken over, and that run, were it alive, finds it lost at its next check, as
    does a run whose own renewals have failed for that long; a run whose name Spark masks when
    reading it back (it looks like a URL or a token) still holds its own lease. Nothing of it is on
    disk."""
    env = connect_server.client_env
    before = sorted(p.name for p in (connect_server.folder / "warehouse").glob("*"))
    probe = run_with_deadline([sys.executable, "-c", LEASE_PROBE, connect_server.url], env, timeout=300)
    assert probe.returncode == 0, probe.stderr[-3000:]
    out = json.loads(probe.stdout.strip().splitlines()[-1])
    assert out["held"] is True
    assert out["second"].startswith("another census run uses this Spark Connect server (run A;"), out["second"]
    assert out["first_renews"] is True and out["after_release"] is None
    assert out["first_unrenewed"].startswith("this run has not renewed its lease"), out["first_unrenewed"]
    assert out["taken_over_by"] == "run C"
    assert out["second_renews"] is False and "another run took the server (run C)" in out["second_check"]
    assert out["after_second_release"] == "run C" and out["at_end"] is None
    assert out["masked_checks"] is True and out["masked_released"] is None
    assert sorted(p.name for p in (connect_server.folder / "warehouse").glob("*")) == before  # metastore only


LEASE_HOLDER = """
import sys
from pyspark.sql import SparkSession
from census_pipeline import spark_dbt
lease = spark_dbt.RunLease(SparkSession.builder.remote(sys.argv[1]).getOrCreate(), "another office's run")
lease.take()
print("held", flush=True)
sys.stdin.read()  # until the test closes it
lease.release()
"""


def test_a_census_run_is_refused_while_another_holds_the_server(built, small_census, connect_server, tmp_path):
    """`census run` on a server whose lease another run holds fails at its first build, saying
    so and naming that run; it builds nothing there."""
    holder = subprocess.Popen([sys.executable, "-c", LEASE_HOLDER, connect_server.url], text=True,
                              env=connect_server.client_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    try:
        assert holder.stdout.readline().strip() == "held"
        run = census_cli(["run"], spark_run_folder(tmp_path, built, small_census, connect_server), timeout=600)
        out = run.stdout + run.stderr
        assert run.returncode != 0
        # the summary's line for the failed step says why, naming the run that holds the server
        assert re.search(r"FAILED step census_microdata_models at \S+: ServerInUseError: another census run uses "
                         r"this Spark Connect server \(another office's run;", out), out[-3000:]
        assert not (tmp_path / "spark" / "raw").exists()  # refused before its raw zone was written
    finally:
        holder.stdin.close()
        holder.wait(timeout=120)


LEASE_CHECK = """
import sys
from pyspark.sql import SparkSession
from census_pipeline import spark_dbt
print("held" if SparkSession.builder.remote(sys.argv[1]).getOrCreate().catalog.tableExists(spark_dbt.LEASE_VIEW)
      else "free")
"""


def test_the_run_gave_the_server_back(spark_run, connect_server):
    """The run's lease (see the tests above: held while it runs) is dropped at its end."""
    assert spark_run.run.returncode == 0
    env = connect_server.client_env
    probe = run_with_deadline([sys.executable, "-c", LEASE_CHECK, connect_server.url], env, timeout=120)
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert probe.stdout.strip().splitlines()[-1] == "free"


def test_the_token_is_in_nothing_the_run_wrote_or_printed(spark_run, connect_server):
    """The server's token (a secret from the environment) is in no output of the run: its
    console, its log files, the warehouse, the Dagster instance (event log, run records), the
    quality results and pages, the bulletin, the run directory; nor in the server's folder (its
    log, warehouse and metastore)."""
    token = connect_server.token.encode()
    assert token not in (spark_run.run.stdout + spark_run.run.stderr).encode()
    scanned = 0
    for root in (spark_run.folder, connect_server.folder):
        for path in root.rglob("*"):
            if path.is_file():
                assert token not in path.read_bytes(), path
                scanned += 1
    assert scanned > 50
