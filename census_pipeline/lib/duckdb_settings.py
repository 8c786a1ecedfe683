"""How much of the machine DuckDB may use: one place for every connection to the warehouse.

DuckDB's own default is 80 % of RAM and every core, per connection. At Hangzhou's size (12 M
persons) that default was reached within minutes of the microdata build, and with the Dagster
process, dbt and Splink beside it the process tree went past the machine. So the limit is set,
and what does not fit spills to a temporary folder beside the warehouse:

    CENSUS_DUCKDB_MEMORY_LIMIT   default 4GB  (the whole run stays under ~8 GiB)
    CENSUS_DUCKDB_THREADS        default: the machine's cores
    CENSUS_DUCKDB_TEMP_DIR       default <warehouse>.tmp/ (spilled intermediate results)

The warehouse resource, the dbt profile (through census_pipeline.dbt_plugin) and the quality
gates' connections all take their settings from here.
"""

from __future__ import annotations

import os

DEFAULT_MEMORY_LIMIT = "4GB"


def duckdb_settings(warehouse: str) -> dict[str, str]:
    """DuckDB configuration for a connection to `warehouse` (a path)."""
    return {
        "memory_limit": os.environ.get("CENSUS_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT,
        "threads": str(int(os.environ.get("CENSUS_DUCKDB_THREADS") or os.cpu_count() or 2)),
        "temp_directory": os.environ.get("CENSUS_DUCKDB_TEMP_DIR") or f"{warehouse}.tmp",
    }
