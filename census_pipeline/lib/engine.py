"""Which engine runs the dbt models, and where a Spark engine keeps its tables (issue 14).

    CENSUS_ENGINE        duckdb (default: the embedded warehouse) or spark
    CENSUS_SPARK_MASTER  the Spark master (default local[2]: this machine's two cores)
    CENSUS_SPARK_REMOTE  a Spark Connect server, sc://host:port, instead of Spark in the run's
                         process: a cluster's driver, with its own master, warehouse and metastore
                         (CENSUS_SPARK_MASTER is then not used). Its token, when the server asks for
                         one, comes from SPARK_CONNECT_AUTHENTICATE_TOKEN (pyspark reads it), never
                         from the URL; a host other than localhost is reached over TLS
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


def engine_settings(env: Mapping[str, str], warehouse: str | Path) -> EngineSettings:
    """The engine settings from `env` (os.environ, or a test's own); `warehouse` is the DuckDB
    file the Spark run directory defaults beside."""
    engine = (env.get("CENSUS_ENGINE") or "duckdb").strip().lower()
    if engine not in ENGINES:
        raise ValueError(f"CENSUS_ENGINE={engine!r}: expected one of {', '.join(ENGINES)}")
    spark_dir = Path(env.get("CENSUS_SPARK_DIR") or f"{warehouse}.spark").absolute()
    remote = (env.get("CENSUS_SPARK_REMOTE") or "").strip() or None
    if remote is not None:
        if not remote.startswith("sc://"):
            raise ValueError(f"CENSUS_SPARK_REMOTE={remote!r}: expected a Spark Connect URL, sc://host:port")
        if "token=" in remote.lower():
            raise ValueError("CENSUS_SPARK_REMOTE holds a token: give it in SPARK_CONNECT_AUTHENTICATE_TOKEN instead "
                             "(a URL is printed in logs and run metadata; a secret must not be)")
    return EngineSettings(engine=engine, spark_master=env.get("CENSUS_SPARK_MASTER") or "local[2]",
                          spark_dir=spark_dir, spark_remote=remote)
