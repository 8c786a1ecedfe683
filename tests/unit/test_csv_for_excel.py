"""CSVs for everyone: UTF-8 with a byte-order mark (Excel on Chinese Windows reads a CSV without
one as GBK), still parsed cleanly by pandas, DuckDB and Python's csv module."""

import csv

import duckdb
import pandas as pd

from census_pipeline.lib.safe_cells import copy_csv


def write(tmp_path, bom=True):
    con = duckdb.connect()
    con.execute("create table t as select * from (values ('330100', '杭州市', 12, 108.67::decimal(6,2)),"
                " ('330102', '上城区, 东', 5, 99.5::decimal(6,2)), ('330105', '=1+1', -1, null)) v(code, name, n, r)")
    path = tmp_path / "t.csv"
    copy_csv(con, "t", path, order_by=["code"], bom=bom)
    con.close()
    return path


def test_the_file_starts_with_the_utf8_byte_order_mark_once(tmp_path):
    path = write(tmp_path)
    data = path.read_bytes()
    assert data[:3] == b"\xef\xbb\xbf" and data[3:7] == b"code"
    assert data.count(b"\xef\xbb\xbf") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]  # no intermediate file left


def test_pandas_reads_the_header_and_chinese_text_cleanly(tmp_path):
    df = pd.read_csv(write(tmp_path), encoding="utf-8-sig", dtype={"code": str})
    assert list(df.columns) == ["code", "name", "n", "r"]
    assert df["name"].tolist() == ["杭州市", "上城区, 东", "'=1+1"]
    assert df["n"].tolist() == [12, 5, -1] and df["r"].iloc[0] == 108.67


def test_duckdb_reads_the_header_and_types_cleanly(tmp_path):
    path = write(tmp_path)
    con = duckdb.connect()
    cols = [r[0] for r in con.execute(f"describe select * from read_csv('{path}')").fetchall()]
    rows = con.execute(f"select code, name, n from read_csv('{path}', types={{'code': 'VARCHAR'}}) order by 1").fetchall()
    assert cols == ["code", "name", "n", "r"]
    assert rows == [("330100", "杭州市", 12), ("330102", "上城区, 东", 5), ("330105", "'=1+1", -1)]


def test_python_csv_with_utf8_sig_sees_the_same_header(tmp_path):
    with open(write(tmp_path), encoding="utf-8-sig", newline="") as f:
        assert next(csv.reader(f)) == ["code", "name", "n", "r"]


def test_without_bom_the_file_is_unchanged(tmp_path):
    assert write(tmp_path, bom=False).read_bytes()[:4] == b"code"
