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
    CENSUS_SPARK_THREADS the models dbt builds on Spark at a time (default 2; dbt's profile reads it)

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
    """Refuse a CENSUS_SPARK_REMOTE that could leak, read as pyspark reads it (its
    DefaultChannelBuilder: `sc://` then a host, a port, and `/;name=value` parameters, names as
    written): one holding a token, credentials, a query, a fragment or an unknown parameter
    (pyspark would send it as a header; the URL is printed in logs and run metadata, and no
    message here repeats it), or one reaching another machine in clear (the run sends the
    pseudonym function, key included, to the server). pyspark reaches another host over TLS when
    use_ssl is true or a token is given; only `localhost` may be plain."""
    from urllib.parse import unquote, urlparse

    if any(x in url.lower() for x in ("token", "@", "?", "#")):
        raise ValueError("CENSUS_SPARK_REMOTE holds a token, credentials, a query or a fragment: a token goes in "
                         "SPARK_CONNECT_AUTHENTICATE_TOKEN, never in the URL (the URL is printed in logs and run "
                         "metadata)")
    parsed = urlparse("http" + url[2:]) if url.startswith("sc://") else None
    netloc = parsed.netloc.split(":") if parsed else []
    if (parsed is None or parsed.path not in ("", "/") or not netloc[0] or len(netloc) > 2
            or (len(netloc) == 2 and not netloc[1].isdigit())):
        raise ValueError("CENSUS_SPARK_REMOTE is not a Spark Connect URL: expected sc://host:port, with "
                         "/;name=value parameters after it")
    params = {}
    for pair in parsed.params.split(";") if parsed.params else []:
        name, equals, value = pair.partition("=")
        if name not in CONNECT_PARAMETERS or not equals or "=" in value:  # pyspark: exactly name=value
            raise ValueError("CENSUS_SPARK_REMOTE has a parameter that is not one of " + ", ".join(CONNECT_PARAMETERS)
                             + " as name=value (lower case): pyspark would send any other as a header, and a token "
                             "goes in SPARK_CONNECT_AUTHENTICATE_TOKEN, never in the URL")
        params[name] = unquote(value)  # the last one wins, as in pyspark
    host = netloc[0]
    if host == "127.0.0.1":
        raise ValueError("CENSUS_SPARK_REMOTE: write localhost for this machine (pyspark takes only that name "
                         "for a local server)")
    if host != "localhost" and not (params.get("use_ssl", "").lower() == "true" or has_token):
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
