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
  and each run points them at its own raw zone and rebuilds them.

This module starts such a server on this machine (`local[N]`, listening on 127.0.0.1 only), to
try the Connect path without a cluster and for the tests:

    SPARK_CONNECT_AUTHENTICATE_TOKEN=... python -m census_pipeline.spark_connect --dir DIR [--port 15002]

It runs in the foreground until stopped (Ctrl-C); DIR holds its warehouse, metastore and log.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

DEFAULT_PORT = 15002


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
    print(f"Spark Connect server on sc://localhost:{args.port} (folder {folder}); Ctrl-C stops it")
    return subprocess.call(server_command(folder, args.port, args.master), env=server_env(), cwd=folder)


if __name__ == "__main__":
    sys.exit(main())
