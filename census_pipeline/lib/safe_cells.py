"""Spreadsheet-safe cells: every CSV and XLSX the pipeline writes goes through here.

A text cell that starts with `=`, `+`, `-`, `@` or a control character (tab, CR, ...) is read by
Excel and LibreOffice as a formula (CSV/formula injection: `=HYPERLINK(...)`, `=cmd|' /C calc'!A0`,
`@SUM(...)` in a household or enumerator id typed on a PAD). Following OWASP's guidance such a
cell gets a leading single quote, so the spreadsheet shows it as text. Only text cells are
touched: numbers (a negative count or rate) stay numbers.

CSVs are written by DuckDB COPY, set-based: `safe_select` wraps each VARCHAR column of a query
in a CASE, so no row passes through Python. XLSX cells pass through `neutralise`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

FORMULA_TRIGGERS = ("=", "+", "-", "@")


def starts_like_a_formula(text: str) -> bool:
    """True when a spreadsheet would read `text` as a formula or mangle its first character."""
    if not text:
        return False
    first = ord(text[0])
    return text[0] in FORMULA_TRIGGERS or first < 32 or first == 127


def neutralise(value):
    """The cell as a spreadsheet may safely show it: risky text prefixed with `'`, the rest as is."""
    if isinstance(value, str) and starts_like_a_formula(value):
        return "'" + value
    return value


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def neutralise_sql(expr: str) -> str:
    """SQL (DuckDB) of `neutralise` for one text expression; NULL stays NULL."""
    first = f"ord(left({expr}, 1))"
    return (f"case when left({expr}, 1) in ('=', '+', '-', '@') or {first} between 0 and 31 or {first} = 127 "
            f"then '''' || {expr} else {expr} end")


def _is_text(column_type: str) -> bool:
    return column_type == "VARCHAR" or column_type.startswith("ENUM")


def safe_select(con, relation: str, order_by: list[str] | None = None) -> str:
    """A SELECT over `relation` (a table name or a parenthesised query) with the same columns, in
    the same order and under the same names, every text column neutralised; ordered by the
    original values of `order_by`."""
    columns = con.execute(f"describe select * from {relation}").fetchall()
    items = []
    for name, column_type, *_ in columns:
        col = f"src.{_ident(name)}"
        if _is_text(column_type):
            items.append(f"{neutralise_sql(col + '::varchar')} as {_ident(name)}")
        else:
            items.append(f"{col} as {_ident(name)}")
    order = f" order by {', '.join('src.' + _ident(c) for c in order_by)}" if order_by else ""
    return f"select {', '.join(items)} from {relation} as src{order}"


UTF8_BOM = b"\xef\xbb\xbf"


def copy_csv(con, relation: str, path: Path, order_by: list[str] | None = None, bom: bool = False) -> None:
    """Write `relation` to `path` as UTF-8 CSV with a header row, every text cell neutralised.

    `bom=True` starts the file with the UTF-8 byte-order mark: Excel on Chinese Windows reads a
    CSV without it in the ANSI code page (GBK), so 杭州市 shows garbled; pandas
    (`encoding="utf-8-sig"`), DuckDB's read_csv and Python's csv module with "utf-8-sig" skip it.
    DuckDB's COPY cannot write one (no encoding option for writing; PREFIX cannot be combined with
    HEADER), so the CSV is written beside `path` and copied after the mark in 1 MiB chunks: no
    row passes through Python."""
    path = Path(path)
    written = path.with_name(f".{path.name}.nobom") if bom else path
    target = str(written).replace("'", "''")
    con.execute(f"copy ({safe_select(con, relation, order_by)}) to '{target}' (header, delimiter ',')")
    if bom:
        try:
            with open(written, "rb") as src, open(path, "wb") as dst:
                dst.write(UTF8_BOM)
                shutil.copyfileobj(src, dst, 1 << 20)
        finally:
            written.unlink(missing_ok=True)
