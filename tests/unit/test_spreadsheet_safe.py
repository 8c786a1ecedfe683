"""Spreadsheet-safe cells (OWASP CSV injection): text that a spreadsheet would run is neutralised,
numbers are not."""

import csv

import duckdb
import pytest

from census_pipeline.lib.safe_cells import copy_csv, neutralise, starts_like_a_formula

PAYLOADS = ["=HYPERLINK(\"http://evil.example\",\"click\")", "=cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
            "+1+1", "-2+3", "\t=1+1", "\r=1+1", "\x00x", "\x1bx", "\x7fx"]
HARMLESS = ["H3301060010010010001", "E330106001001001", "西湖区", "", "a=b", "1-2", "'already quoted", " =1"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_formula_trigger_is_prefixed_with_a_quote(payload):
    assert neutralise(payload) == "'" + payload
    assert not starts_like_a_formula(neutralise(payload))


@pytest.mark.parametrize("text", HARMLESS)
def test_harmless_text_is_left_alone(text):
    assert neutralise(text) == text


@pytest.mark.parametrize("number", [-3, -1.5, 0, 12, None])
def test_numbers_and_nulls_stay_as_they_are(number):
    assert neutralise(number) == number


def test_copy_neutralises_text_columns_only_and_keeps_order(tmp_path):
    con = duckdb.connect()
    con.execute("create table t (id varchar, n integer, rate decimal(5, 2), note varchar, kind enum ('a', '-b'))")
    rows = [(p, -i, -1.25, None, "-b") for i, p in enumerate(PAYLOADS)] + [(h, i, 2.5, h, "a")
                                                                           for i, h in enumerate(HARMLESS)]
    con.executemany("insert into t values (?, ?, ?, ?, ?)", rows)
    copy_csv(con, "t", tmp_path / "t.csv", order_by=["n", "id"])
    with open(tmp_path / "t.csv", encoding="utf-8", newline="") as f:
        got = list(csv.DictReader(f))
    assert list(got[0]) == ["id", "n", "rate", "note", "kind"]
    assert len(got) == len(rows)
    for row in got:
        for column in ("id", "note", "kind"):
            assert not starts_like_a_formula(row[column]), row
    # negative numbers stay numbers, and the original values order the rows
    assert [int(r["n"]) for r in got] == sorted(int(r["n"]) for r in got)
    assert {r["rate"] for r in got} == {"-1.25", "2.50"}
    assert {r["id"] for r in got} == {"'" + p for p in PAYLOADS} | set(HARMLESS)
    assert {r["kind"] for r in got} == {"'-b", "a"}


def test_copy_of_a_query_and_a_path_with_a_quote(tmp_path):
    con = duckdb.connect()
    folder = tmp_path / "o'brien"
    folder.mkdir()
    copy_csv(con, "(select '=1+1' as a, -5 as b)", folder / "q.csv")
    assert (folder / "q.csv").read_text(encoding="utf-8").splitlines() == ["a,b", "'=1+1,-5"]
