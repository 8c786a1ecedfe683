"""bench/persist_cost.py (issue 16: what writing the dbt builds' tables costs a run) on a copy of the
shared built warehouse: it writes every table of the builds once, with its rows and columns, none
of the raw or code-list tables, and leaves the warehouse byte for byte as it found it."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

from tests.builders import warehouse_path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "persist_cost.py"


def _persist_cost():
    spec = importlib.util.spec_from_file_location("persist_cost", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_table_of_the_builds_written_once_and_the_warehouse_untouched(built, tmp_path, capsys):
    con = built[1]
    con.execute("checkpoint")  # the copy holds every table without the write-ahead log
    copy = tmp_path / "w.duckdb"
    shutil.copyfile(warehouse_path(con), copy)
    before = hashlib.sha256(copy.read_bytes()).hexdigest()
    tables = con.execute("""
        select schema_name, table_name, column_count from duckdb_tables()
        where database_name = current_database() and schema_name not in ('raw', 'codes')
    """).fetchall()
    expected = {f"{s}.{t}": (con.execute(f'select count(*) from "{s}"."{t}"').fetchall()[0][0], n)
                for s, t, n in tables}
    assert {"microdata.persons", "intermediate.int_persons_edited", "bulletin.b1_population"} <= set(expected)

    module = _persist_cost()
    measured = module.measure(copy, threads=2, memory_limit="1GB")
    assert {name: (rows, columns) for name, rows, columns, _, _ in measured} == expected
    assert len(measured) == len(expected)  # each once
    assert all(wall > 0 for *_, wall in measured) and sum(cpu for *_, cpu, _ in measured) > 0  # (measured: not zeros)

    assert module.main(["--warehouse", str(copy), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{len(expected)} tables of the dbt builds written in ")
    assert out.count("\n| ") == 2 + 3  # the table's header, its rule and three rows
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == before
