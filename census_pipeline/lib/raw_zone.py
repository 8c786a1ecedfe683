"""The restricted raw zone as Parquet, for an engine other than DuckDB (issue 14).

Ingestion keeps the raw tables, its ledger and its exactly-once bookkeeping in the DuckDB
warehouse; this keeps the tables dbt reads as `source('raw', ...)` in a folder of Parquet datasets,
one per table, so that Spark reads the very rows DuckDB read.

Layout. The submission tables are partitioned by county and upload day, a folder each:
`household_submissions/county_code=330106/upload_date=2020-11-02/data_0.parquet` (a null value is
Hive's `__HIVE_DEFAULT_PARTITION__`). The columns are also in the files, with their types, so a
reader needs no partition discovery (Spark reads the folder recursively). Person and death lines
have no county or day of their own: they lie in their submission's folder. Every table also has
`schema.parquet`, no rows and the table's columns (an empty table keeps its schema). A county's
rows are folders of their own: what lets a province's counties be processed apart.

Incremental. Each table's folder has `_partitions.json`: its columns and, per partition folder, the
count and two sums of its rows' hashes, as the warehouse held them when the folder was written. An
export computes the same figures from the warehouse (one scan, no file written) and rewrites only
the partitions whose figures changed (a new upload day, a county's new files, a re-delivery that
moved a submission), removes those that are gone, and leaves the rest: a nightly run with one
new day of uploads writes that day's folders. A changed schema rewrites the whole table.

Crash-safe. Each partition is written beside the table, then moved into place; the manifest is
removed before the first change and written (atomically) after the last, so an export killed at
any point leaves a table with no manifest, which the next export writes whole. Partitions are
compared by 64-bit hashes of their rows (DuckDB's hash of the row, summed, and hashed again and
xor-ed: DuckDB combines a row's columns by xor, so values swapped between two rows leave a plain
xor alike): a change that left a partition's count and both sums alike would go unseen; it is not
one an ordinary delivery makes. Crash-safe means a killed process, not a power cut: nothing is
fsynced before the manifest is put in place.

DuckDB-only types are written as what they hold: JSON as its text (the models parse it), an
unsigned count as a signed one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

PARTITION_COLUMNS = ("county_code", "upload_date")
# tables with no county or upload day of their own: partitioned as their submission is
PARENT = {"person_lines": "household_submissions", "death_lines": "household_submissions",
          "pes_person_lines": "pes_submissions"}
MANIFEST = "_partitions.json"  # Spark and DuckDB skip files whose name starts with '_'
SCHEMA_FILE = "schema.parquet"
DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # the folder DuckDB (as Hive) names a null value
WHOLE = "."  # the one "partition" of a table that is not partitioned
LAYOUT_VERSION = 2  # 1: county folders only, partition columns in the path only
_move = os.replace  # every file and folder put in place (a test kills an export at one of them)
_remove = shutil.rmtree  # every folder taken away (likewise); never told to ignore errors: a folder left
                         # behind unlisted would be read by Spark, its rows twice or stale


@dataclasses.dataclass
class Export:
    """What an export did: rows per table, and partition folders written, kept and removed."""

    rows: dict[str, int] = dataclasses.field(default_factory=dict)
    written: int = 0
    kept: int = 0
    removed: int = 0


def raw_tables(con) -> list[str]:
    return [r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw' order by table_name").fetchall()]


def _columns(con, table: str) -> list[tuple[str, str]]:
    return [(n, t) for n, t in con.execute("""
        select column_name, data_type from information_schema.columns
        where table_schema = 'raw' and table_name = ? order by ordinal_position
    """, [table]).fetchall()]


def _select_list(cols: list[tuple[str, str]], alias: str) -> str:
    out = []
    for name, kind in cols:
        if kind == "JSON":
            out.append(f'cast({alias}."{name}" as varchar) as "{name}"')
        elif kind.startswith("U") and kind.endswith("INT"):
            out.append(f'cast({alias}."{name}" as bigint) as "{name}"')
        else:
            out.append(f'{alias}."{name}"')
    return ", ".join(out)


def _relation(con, table: str, tables: set[str]) -> tuple[str, tuple[str, ...], bool]:
    """(the rows to write as SQL, the partition columns, whether those are the table's own
    columns, written into the files too)."""
    cols = _columns(con, table)
    names = {n for n, _ in cols}
    own = tuple(c for c in PARTITION_COLUMNS if c in names)
    select = _select_list(cols, "t")
    parent = PARENT.get(table)
    if not own and parent in tables and "submission_id" in names:
        # one row per submission_id on the parent's side (it is unique there): a line is never written twice
        return (f"select {select}, p.county_code, p.upload_date from raw.{table} t left join "
                f"(select submission_id, min(county_code) as county_code, min(upload_date) as upload_date "
                f"from raw.{parent} group by submission_id) p using (submission_id)",
                PARTITION_COLUMNS, False)
    return f"select {select} from raw.{table} t", own, bool(own)


def _folder_sql(parts: tuple[str, ...]) -> str:
    """SQL: a row's partition folder, as DuckDB's partitioned COPY names it."""
    if not parts:
        return f"'{WHOLE}'"
    return " || '/' || ".join(f"'{c}=' || coalesce(url_encode(cast({c} as varchar)), '{DEFAULT_PARTITION}')"
                              for c in parts)  # DuckDB percent-encodes a value as url_encode does


def _read_manifest(target: Path) -> dict | None:
    try:
        return json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    _move(tmp, path)


def _remove_partition(target: Path, folder: str) -> None:
    if folder == WHOLE:
        (target / "part-0.parquet").unlink(missing_ok=True)
        return
    path = target / folder
    if path.exists():
        _remove(path)
    parent = path.parent
    while parent != target and parent.is_dir() and not any(parent.iterdir()):  # a county left with no day
        parent.rmdir()
        parent = parent.parent


def export_table(con, folder: Path, table: str, tables: set[str], result: Export) -> None:
    """Bring folder/<table>/ up to date with raw.<table> of the DuckDB connection `con`."""
    target = folder / table
    relation, parts, in_files = _relation(con, table, tables)
    described = con.sql(relation)
    schema = [[c, str(t)] for c, t in zip(described.columns, described.types, strict=True)]
    # the columns in the files (a parent's county and day are in the path only), hashed as written
    columns = ", ".join(f'"{c}"' for c, _ in schema if in_files or c not in parts)
    now = {f: [int(n), str(s), int(x)] for f, n, s, x in con.execute(f"""
        select {_folder_sql(parts)} as folder, count(*), sum(hash({columns})::hugeint), bit_xor(hash(hash({columns})))
        from ({relation}) group by all
    """).fetchall()}
    result.rows[table] = sum(n for n, _, _ in now.values())
    layout = {"version": LAYOUT_VERSION, "partitioned_by": list(parts), "columns": schema}
    old = _read_manifest(target)
    if old is None or old.get("layout") != layout:  # written whole: the manifest goes first
        (target / MANIFEST).unlink(missing_ok=True)
        if target.exists():
            _remove(target)
        old = {"partitions": {}}
    changed = sorted(f for f in now if old["partitions"].get(f) != now[f])
    removed = sorted(set(old["partitions"]) - set(now))
    result.kept += len(now) - len(changed)
    if not changed and not removed and (target / SCHEMA_FILE).exists():
        return
    target.mkdir(parents=True, exist_ok=True)
    (target / MANIFEST).unlink(missing_ok=True)  # from here until the new one: written whole next time
    staging = folder / f".{table}.staging"
    if staging.exists():  # a killed export's
        _remove(staging)
    staging.mkdir()
    if not (target / SCHEMA_FILE).exists():  # a table written whole (its columns are the manifest's)
        con.execute(f"copy (select {columns} from ({relation}) limit 0) to '{staging / SCHEMA_FILE}' (format parquet)")
        _move(staging / SCHEMA_FILE, target / SCHEMA_FILE)
    if changed and parts:
        picked = ", ".join("'" + f.replace("'", "''") + "'" for f in changed)
        only = "" if len(changed) == len(now) else f"where {_folder_sql(parts)} in ({picked})"
        con.execute(f"""
            copy (select * from ({relation}) {only})
            to '{staging / "parts"}' (format parquet, partition_by ({", ".join(parts)}),
                                      write_partition_columns {str(in_files).lower()})
        """)
        made = sorted({str(p.parent.relative_to(staging / "parts")) for p in (staging / "parts").rglob("*.parquet")})
        if made != changed:  # DuckDB named a folder otherwise than _folder_sql: stop before moving any
            raise RuntimeError(f"raw zone {table}: partitions written {made[:5]}..., expected {changed[:5]}...")
        for f in changed:
            _remove_partition(target, f)
            (target / f).parent.mkdir(parents=True, exist_ok=True)
            _move(staging / "parts" / f, target / f)
    elif changed:  # the table is one dataset
        con.execute(f"copy (select {columns} from ({relation})) to '{staging / 'part-0.parquet'}' (format parquet)")
        _move(staging / "part-0.parquet", target / "part-0.parquet")
    for f in removed:
        _remove_partition(target, f)
    _remove(staging)
    _write_atomically(target / MANIFEST, json.dumps({"layout": layout, "partitions": now}, indent=0))
    result.written += len(changed)
    result.removed += len(removed)


def export_raw_zone(con, folder: Path, tables: list[str]) -> Export:
    """Bring each of `tables` (schema raw of the DuckDB connection `con`) up to date in
    `folder/<table>/`, partition by partition (see the module's docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    result = Export()
    present = set(raw_tables(con))
    for table in tables:
        export_table(con, folder, table, present, result)
    return result
