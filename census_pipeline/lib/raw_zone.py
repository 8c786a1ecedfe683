"""The restricted raw zone as Parquet, for an engine other than DuckDB (issue 14).

Ingestion keeps the raw tables, its ledger and its exactly-once bookkeeping in the DuckDB
warehouse; this writes the tables dbt reads as `source('raw', ...)` into a folder of Parquet
datasets, one per table, so that Spark reads the very rows DuckDB read. Tables holding a
`county_code` are partitioned by it (`county_code=330106/...`): a county's rows are a folder of
their own, which is what lets a province's counties be processed, or re-ingested, apart.

DuckDB-only types are written as what they hold: JSON as its text (the models parse it), an
unsigned count as a signed one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

PARTITION_COLUMN = "county_code"


def raw_tables(con) -> list[str]:
    return [r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw' order by table_name").fetchall()]


def _select_list(con, table: str) -> tuple[str, bool]:
    cols = con.execute("""
        select column_name, data_type from information_schema.columns
        where table_schema = 'raw' and table_name = ? order by ordinal_position
    """, [table]).fetchall()
    out = []
    for name, kind in cols:
        if kind == "JSON":
            out.append(f'cast("{name}" as varchar) as "{name}"')
        elif kind.startswith("U") and kind.endswith("INT"):
            out.append(f'cast("{name}" as bigint) as "{name}"')
        else:
            out.append(f'"{name}"')
    return ", ".join(out), any(name == PARTITION_COLUMN for name, _ in cols)


def export_raw_zone(con, folder: Path, tables: list[str]) -> dict[str, int]:
    """Write each of `tables` (schema raw of the DuckDB connection `con`) to `folder/<table>/` as
    Parquet, replacing what was there. Returns the rows written per table."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = {}
    for table in tables:
        target = folder / table
        shutil.rmtree(target, ignore_errors=True)
        select, partitioned = _select_list(con, table)
        query = f"select {select} from raw.{table}"
        rows[table] = con.execute(f"select count(*) from raw.{table}").fetchone()[0]
        if partitioned and rows[table]:  # an empty table has no partition: one empty file keeps its schema
            con.execute(f"copy ({query}) to '{target}' (format parquet, partition_by ({PARTITION_COLUMN}))")
        else:
            target.mkdir()
            con.execute(f"copy ({query}) to '{target / 'part-0.parquet'}' (format parquet)")
    return rows
