"""What writing the warehouse's tables costs: the CPU of storing each table a run built, alone.

Issue 16 asks for `census run` at 1 M persons to be ahead of a plain-Python script of b1-b7. A
run keeps every stage's result as a table in its DuckDB warehouse (the microdata, the restricted
intermediate tables the dbt tests and quality gates read, the linkage and survey tables, the
bulletin); the script keeps nothing. This measures that part of the run's CPU on a warehouse a
run built (bench/run_bench.py leaves one in its work folder): each table is first copied into
memory, then written to a new DuckDB file in an empty folder, and only the write is timed
(user + system CPU of this process, DuckDB on the same threads as a run).

    .venv/bin/python bench/persist_cost.py --warehouse /data/bench/1m/warehouse.duckdb

Read-only on the warehouse; the scratch file is removed. The raw schema (ingestion's tables,
written chunk by chunk) and the code lists are left out: the figure is the dbt builds' tables.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

SKIPPED_SCHEMAS = ("raw", "codes")


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(warehouse: Path, threads: int, memory_limit: str) -> list[tuple[str, int, int, float, float]]:
    """[(schema.table, rows, columns, write CPU-s, write wall-s)] of every table of the dbt builds."""
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit})
    con.execute(f"attach '{warehouse.as_posix()}' as wh (read_only)")
    tables = con.execute(f"""
        select schema_name, table_name, estimated_size, column_count from duckdb_tables()
        where database_name = 'wh' and schema_name not in {SKIPPED_SCHEMAS} order by schema_name, table_name
    """).fetchall()
    out = []
    with tempfile.TemporaryDirectory(prefix="census-persist-") as tmp:
        con.execute(f"attach '{Path(tmp, 'scratch.duckdb').as_posix()}' as scratch")
        for schema, table, _, columns in tables:
            con.execute(f'create or replace temp table _copy as select * from wh."{schema}"."{table}"')
            rows = con.execute("select count(*) from _copy").fetchall()[0][0]
            c0, w0 = cpu_s(), time.perf_counter()
            con.execute(f'create table scratch."{schema}_{table}" as select * from _copy')
            out.append((f"{schema}.{table}", rows, columns, cpu_s() - c0, time.perf_counter() - w0))
        con.execute("drop table _copy")
        con.execute("detach scratch")
    con.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", type=Path, required=True, help="a warehouse a `census run` built (read only)")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads (a run's: 2 on this machine)")
    ap.add_argument("--memory-limit", default="8GB", help="DuckDB memory limit (the tables are copied into memory)")
    ap.add_argument("--top", type=int, default=10, help="tables listed, most costly first")
    args = ap.parse_args(argv)
    if not args.warehouse.is_file():
        ap.error(f"no warehouse at {args.warehouse}")
    rows = measure(args.warehouse, args.threads, args.memory_limit)
    total_cpu = sum(r[3] for r in rows)
    total_wall = sum(r[4] for r in rows)
    print(f"{len(rows)} tables of the dbt builds written in {total_wall:.1f} s wall, {total_cpu:.1f} CPU-s "
          f"(DuckDB {duckdb.__version__}, {args.threads} threads)\n")
    print("| table | rows | columns | write CPU | write wall |\n| --- | --- | --- | --- | --- |")
    for name, n, columns, c, w in sorted(rows, key=lambda r: -r[3])[:args.top]:
        print(f"| {name} | {n:,} | {columns} | {c:.2f} s | {w:.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
