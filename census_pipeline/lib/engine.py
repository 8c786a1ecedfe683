"""Which engine runs the dbt models, and where a Spark engine keeps its tables (issue 14).

    CENSUS_ENGINE        duckdb (default: the embedded warehouse) or spark
    CENSUS_SPARK_MASTER  the Spark master (default local[2]: this machine's two cores)
    CENSUS_SPARK_REMOTE  a Spark Connect server, sc://host:port, instead of Spark in the run's
                         process: a cluster's driver, with its own master, warehouse and metastore
                         (CENSUS_SPARK_MASTER is then not used). Its token, when the server asks for
                         one, comes from SPARK_CONNECT_AUTHENTICATE_TOKEN (pyspark reads it), never
                         from the URL; a host other than localhost is refused unless TLS is on
                         (a token, or /;use_ssl=true): see remote_problem
    CENSUS_SPARK_DIR     the Spark run directory (default <warehouse>.spark/): raw/ (the raw zone
                         as Parquet), warehouse/ (the tables dbt builds) and metastore_db/ (a Derby
                         metastore: Derby admits one process, so one per run directory)

Read when a run starts, never at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class EngineSettings:
    engine: str
    spark_master: str
    spark_dir: Path
    spark_remote: str | None = None

    @property
    def spark_where(self) -> str:
        """Where the Spark work runs, for logs and metadata (no secret: the URL holds none)."""
        return f"Spark Connect {self.spark_remote}" if self.spark_remote else f"Spark {self.spark_master}"

    @property
    def on_spark(self) -> bool:
        return self.engine == "spark"

    @property
    def raw_zone(self) -> Path:
        return self.spark_dir / "raw"

    @property
    def spark_warehouse(self) -> Path:
        return self.spark_dir / "warehouse"

    @property
    def metastore(self) -> Path:
        return self.spark_dir / "metastore_db"


# the parameters of a Spark Connect URL that hold no secret (pyspark sends any other as a gRPC header)
CONNECT_PARAMETERS = ("use_ssl", "user_id", "user_agent", "session_id")


def remote_problem(url: str, has_token: bool) -> None:
    """Refuse a CENSUS_SPARK_REMOTE that could leak: one holding a token or an unknown parameter
    (pyspark would send it as a header, and the URL is printed in logs and run metadata: the
    message never repeats it), or one reaching another machine in clear (the run sends the
    pseudonym function, key included, to the server). pyspark reaches another host over TLS when
    the URL says use_ssl=true or a token is given; only `localhost` may be plain."""
    head, _, params = url.partition("/;")
    keys = [p.partition("=")[0].strip().lower() for p in params.split(";") if p.strip()] if params else []
    unknown = [k for k in keys if k not in CONNECT_PARAMETERS]
    if unknown:
        raise ValueError("CENSUS_SPARK_REMOTE has a parameter that is not one of " + ", ".join(CONNECT_PARAMETERS)
                         + ": a token goes in SPARK_CONNECT_AUTHENTICATE_TOKEN, never in the URL (the URL is "
                         "printed in logs and run metadata)")
    if not head.lower().startswith("sc://"):
        raise ValueError("CENSUS_SPARK_REMOTE is not a Spark Connect URL: expected sc://host:port")
    host = head[len("sc://"):].rstrip("/").rpartition(":")[0] or head[len("sc://"):].rstrip("/")
    if host.strip("[]") in ("127.0.0.1", "::1"):
        raise ValueError("CENSUS_SPARK_REMOTE: write localhost for this machine (pyspark takes only that name "
                         "for a local server)")
    tls = "use_ssl=true" in url.lower().replace(" ", "") or has_token
    if host != "localhost" and not tls:
        raise ValueError(f"CENSUS_SPARK_REMOTE reaches {host} in clear: the run sends the pseudonym function, key "
                         "included, to the server; set SPARK_CONNECT_AUTHENTICATE_TOKEN or add /;use_ssl=true "
                         "(pyspark then uses TLS)")


def engine_settings(env: Mapping[str, str], warehouse: str | Path) -> EngineSettings:
    """The engine settings from `env` (os.environ, or a test's own); `warehouse` is the DuckDB
    file the Spark run directory defaults beside."""
    engine = (env.get("CENSUS_ENGINE") or "duckdb").strip().lower()
    if engine not in ENGINES:
        raise ValueError(f"CENSUS_ENGINE={engine!r}: expected one of {', '.join(ENGINES)}")
    spark_dir = Path(env.get("CENSUS_SPARK_DIR") or f"{warehouse}.spark").absolute()
    remote = (env.get("CENSUS_SPARK_REMOTE") or "").strip() or None
    if remote is not None:
        remote_problem(remote, has_token=bool(env.get("SPARK_CONNECT_AUTHENTICATE_TOKEN")))
    return EngineSettings(engine=engine, spark_master=env.get("CENSUS_SPARK_MASTER") or "local[2]",
                          spark_dir=spark_dir, spark_remote=remote)
