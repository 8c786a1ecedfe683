"""A Spark Connect server for the Spark engine (CENSUS_SPARK_REMOTE; issue 14, docs/scale-out.md).

On a cluster the census run is a Spark Connect client: `CENSUS_ENGINE=spark
CENSUS_SPARK_REMOTE=sc://<driver>:15002 census run` sends the SQL of every dbt model, the linkage's
and the quality gates' to the cluster's driver; the JVM, the master, the warehouse and the metastore
are the server's. The Python of the three Python models (pypinyin over the distinct characters,
Splink's orchestration) runs in the run's process, as a client. What the server needs from this
project, whoever starts it:

- Splink's similarity functions on its classpath (`--jars`, `similarity_jar_location()`);
- a Hive metastore (dbt-spark's tables and views outlive a session), and a warehouse folder this
  machine mounts too, at the same path: the DuckDB warehouse reads the tables Spark builds from
  their Parquet files, and Spark reads the raw zone this machine writes and writes Splink's work
  tables (CENSUS_SPARK_DIR on the same shared storage), which the run deletes as its own user:
  the server writes them as that user, or group-writable (spark.hadoop.fs.permissions.umask-mode=002);
- its executors' Python with this project installed (the package and its lock): the pseudonym and
  hash functions run there, and the hash's closure refers to census_pipeline.lib.duckdb_hash;
- `SPARK_CONNECT_AUTHENTICATE_TOKEN` in its environment: a client must present that token. The
  server itself speaks plain gRPC; off this machine, put a TLS proxy in front of it (the run
  refuses another host unless pyspark's client uses TLS: a token, or /;use_ssl=true). The
  census run's closures carry the pseudonym key to the executors: turn on spark.authenticate and
  spark.network.crypto.enabled between the cluster's own processes;
- one census run at a time: the `raw` tables and the models' schemas are the server's metastore's,
  and each run points them at its own raw zone and rebuilds them. A run holds a lease on the
  server while it runs (spark_dbt.RunLease, a view `default.census_run_lease`); another is
  refused meanwhile.

This module starts such a server on this machine (`local[N]`, listening on 127.0.0.1 only), to
try the Connect path without a cluster and for the tests:

    SPARK_CONNECT_AUTHENTICATE_TOKEN=... python -m census_pipeline.spark_connect --dir DIR [--port 15002]

It runs in the foreground until stopped (Ctrl-C); DIR holds its warehouse, metastore and log.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

DEFAULT_PORT = 15002
STARTED = "Spark Connect server started"  # the server's log line once it listens
# the server gets SIGTERM when the process that started it dies (util-linux's setpriv, when here)
DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []


def server_command(folder: Path, port: int, master: str = "local[2]", driver_memory: str = "4g") -> list[str]:
    """The spark-submit command line of a Connect server keeping its warehouse, Derby metastore and
    log in `folder`, on 127.0.0.1:`port`."""
    import pyspark
    from splink.backends.spark import similarity_jar_location

    spark_home = Path(pyspark.__file__).parent
    derby = f"-Dderby.system.home={folder} -Dderby.stream.error.file={folder / 'derby.log'}"
    conf = {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(folder / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={folder / 'metastore_db'};create=true",
        "spark.driver.extraJavaOptions": derby,
        "spark.ui.enabled": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
    }
    return [str(spark_home / "bin" / "spark-submit"),
            "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
            "--master", master, "--driver-memory", driver_memory, "--jars", similarity_jar_location(),
            *[arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")],
            "spark-internal"]


def server_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: pyspark's Spark home, and this Python (with the project's
    packages) for its Python workers."""
    import pyspark

    return dict(env if env is not None else os.environ, SPARK_HOME=str(Path(pyspark.__file__).parent),
                PYSPARK_PYTHON=sys.executable)


@contextlib.contextmanager
def running(folder: Path, token: str, port: int | None = None, master: str = "local[2]",
            start_within: float = 240) -> Iterator[SimpleNamespace]:
    """A server started in `folder` (its warehouse, metastore and server.log) on 127.0.0.1:`port`
    (a free one by default), admitting clients with `token`; yields (url, process) once it listens.
    Stopped on exit: its process group gets SIGTERM, then SIGKILL after 60 s. It runs in a session
    of its own (a terminal's Ctrl-C reaches this process, which stops it) and dies with this process."""
    if port is None:
        with socket.socket() as s:  # a free port (the server binds it a moment later)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    log = folder / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen([*DIE_WITH_PARENT, "env", "--default-signal=INT,TERM",
                                    *server_command(folder, port, master)], cwd=folder,
                                   env=server_env(dict(os.environ, SPARK_CONNECT_AUTHENTICATE_TOKEN=token)),
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + start_within
        while STARTED not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Spark Connect server did not start ({log}):\n"
                                   + log.read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        yield SimpleNamespace(url=f"sc://localhost:{port}", process=process)
    finally:
        with contextlib.suppress(ProcessLookupError):  # (a server that died at its start)
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m census_pipeline.spark_connect",
                                     description="Start a Spark Connect server on this machine for CENSUS_SPARK_REMOTE.")
    parser.add_argument("--dir", required=True, type=Path, help="folder for its warehouse, metastore and log")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    parser.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    args = parser.parse_args(argv)
    if not os.environ.get("SPARK_CONNECT_AUTHENTICATE_TOKEN"):
        print("set SPARK_CONNECT_AUTHENTICATE_TOKEN: the server admits only clients that present it", file=sys.stderr)
        return 2
    folder = args.dir.absolute()
    folder.mkdir(parents=True, exist_ok=True)
    with running(folder, os.environ["SPARK_CONNECT_AUTHENTICATE_TOKEN"], args.port, args.master) as server:
        print(f"Spark Connect server on {server.url} (folder {folder}, log server.log); Ctrl-C stops it")
        with contextlib.suppress(KeyboardInterrupt):
            return server.process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
