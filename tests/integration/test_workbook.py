"""The published bulletin as people receive it: bulletin.xlsx read back as a spreadsheet would
(titles, Chinese headers, number formats, labels, print set-up, no formulas), the stamp on every
file and a manifest.json that verifies. Reuses the session's materialized census (`built`)."""

import csv
import hashlib
import json
import zipfile
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook

from census_pipeline.lib.codes import SEEDS_DIR
from census_pipeline.lib.publish import verify_manifest
from tests.builders import bulletin_folder

BOM = b"\xef\xbb\xbf"
CSVS = ["b1_population", "b2_sex", "b3_age", "b4_education", "b5_ethnicity", "b6_migration", "b7_urban_rural",
        "b8_hk_macao_taiwan_foreign", "t1_township_population", "lf_marital_status", "lf_employment", "lf_industry"]


def seed(name: str) -> dict[str, str]:
    with open(SEEDS_DIR / f"{name}.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return {r["code"]: r.get("name_zh") or r.get("label_zh") for r in rows}


def published_csv(built, name) -> pd.DataFrame:
    return pd.read_csv(bulletin_folder(built) / f"{name}.csv", encoding="utf-8-sig", dtype={"region_code": str})


@pytest.fixture(scope="module")
def wb(built):
    return load_workbook(bulletin_folder(built) / "bulletin.xlsx")  # not read-only: print titles, widths, properties


def table(ws):
    """(title, unit, headers, data rows): rows until the first row without a number in it."""
    rows = list(ws.iter_rows(min_row=4))
    data = []
    for r in rows:
        if not any(isinstance(c.value, int | float) for c in r):
            break
        data.append(r)
    return ws["A1"].value, ws["A2"].value, [c.value for c in ws[3]], data


def test_every_sheet_has_a_chinese_title_unit_headers_source_and_no_formula(wb):
    assert wb.sheetnames[-1] == "说明"
    for ws in wb.worksheets[:-1]:
        title, unit, headers, data = table(ws)
        assert title.startswith(ws.title.split()[0] + " "), (ws.title, title)  # 表1 ... under the tab 表1 ...
        assert unit.startswith("单位：")
        assert data, ws.title
        for h in headers:  # Chinese headers, not warehouse column names
            assert any(ord(ch) > 0x2E80 for ch in h) and "_" not in h, (ws.title, h)
        below = [ws.cell(row=r, column=1).value for r in range(4 + len(data), ws.max_row + 1)]
        assert any(str(v).startswith("资料来源") for v in below), ws.title
        assert ws.print_title_rows and "1:" in ws.print_title_rows and "3" in ws.print_title_rows
        assert str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4
        assert all(ws.column_dimensions[c].width >= 8 for c in "AB")
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate)


def test_number_formats_follow_the_communique(wb):
    """outputs.md: counts are integers (thousands separators), percentages and ratios 2 decimals."""
    checked = 0
    for ws in wb.worksheets[:-1]:
        _, _, headers, data = table(ws)
        for i, h in enumerate(headers):
            # percentages (…(%), 比重, …率) and ratios (性别比, averages); "95%置信下限" of a count is a count
            two_decimals = h.endswith("(%)") or any(w in h for w in ("性别比", "平均", "率", "比重"))
            for r in data:
                c = r[i]
                if isinstance(c.value, int | float) and not isinstance(c.value, bool):
                    if two_decimals:
                        assert c.number_format == "0.00", (ws.title, h, c.number_format)
                    elif h != "标准误":
                        assert c.number_format == "#,##0", (ws.title, h, c.number_format)
                        assert float(c.value).is_integer(), (ws.title, h, c.value)
                    checked += 1
    assert checked > 500


def test_regions_and_categories_are_labels_from_the_code_lists(built, wb):
    regions = seed("regions")
    b1 = published_csv(built, "b1_population")
    _, _, headers, data = table(wb["表1 常住人口"])
    assert headers[0] == "地区"
    assert [r[0].value for r in data] == [regions[c] for c in b1["region_code"]]
    assert data[0][0].value == "杭州市"
    assert [r[headers.index("常住人口")].value for r in data] == b1["population"].tolist()
    marital = seed("marital_status")
    _, _, headers, data = table(wb["附表2 婚姻状况"])
    assert {r[headers.index("类别")].value for r in data} <= set(marital.values())
    assert {r[headers.index("地区")].value for r in data} <= set(regions.values())


def test_coverage_survey_sheet_holds_the_city_and_county_estimates(built, wb):
    _, con, _ = built
    regions = seed("regions")
    want = con.execute("""select region_or_stratum, census_count, net_omission_pct from quality.pes_estimates
                          where level in ('city', 'county') order by level_order, region_or_stratum""").fetchall()
    _, _, headers, data = table(wb["附表5 登记质量"])
    got = [(r[0].value, r[headers.index("普查登记人数")].value, r[headers.index("净漏登率(%)")].value) for r in data]
    assert got == [(regions[code], n, None if pct is None else float(pct)) for code, n, pct in want]


def test_long_form_tables_are_in_the_workbook(built, wb):
    for sheet, name in (("附表2 婚姻状况", "lf_marital_status"), ("附表3 就业状况", "lf_employment"),
                        ("附表4 行业构成", "lf_industry")):
        _, _, headers, data = table(wb[sheet])
        assert len(data) == len(published_csv(built, name)), sheet
        assert "95%置信下限" in headers


def ledger_sha256(con) -> str:
    rows = con.execute("select source_file, size_bytes, lines_received, lines_ingested, lines_quarantined "
                       "from quality.ingest_ledger order by source_file").fetchall()
    return hashlib.sha256("".join("\t".join("" if v is None else str(v) for v in r) + "\n" for r in rows)
                          .encode()).hexdigest()


def test_every_file_is_stamped_and_the_manifest_verifies(built, wb):
    result, con, _ = built
    out = bulletin_folder(built)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    stamp = manifest["stamp"]
    assert stamp["run_id"] == result.run_id
    assert stamp["data_snapshot"] == ledger_sha256(con)
    assert stamp["code_version"] and stamp["published_at"].endswith("+00:00")
    names = {f["name"]: f for f in manifest["files"]}
    assert set(names) == {f"{t}.csv" for t in CSVS} | {"bulletin.xlsx", "bulletin.html"}
    for name, entry in names.items():
        data = (out / name).read_bytes()
        assert entry["bytes"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest(), name
    assert verify_manifest(out) == []
    # the XLSX: notes sheet and document properties; the HTML: its footer
    notes = [c.value for row in wb["说明"].iter_rows() for c in row if c.value is not None]
    for value in stamp.values():
        assert value in notes, value
    props = {p.name: p.value for p in wb.custom_doc_props}
    assert props["run_id"] == stamp["run_id"] and props["data_snapshot"] == stamp["data_snapshot"]
    html = (out / "bulletin.html").read_text(encoding="utf-8")
    assert stamp["run_id"] in html and stamp["data_snapshot"] in html and stamp["code_version"] in html
    with zipfile.ZipFile(out / "bulletin.xlsx") as z:  # a notes sheet, not a hidden formula, carries it
        assert not any("<f>" in z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml"))


def test_csvs_start_with_a_bom_and_parse_cleanly_in_pandas_and_duckdb(built):
    out = bulletin_folder(built)
    con = duckdb.connect()
    for name in CSVS:
        path = out / f"{name}.csv"
        assert path.read_bytes()[:3] == BOM, name
        df = published_csv(built, name)
        assert list(df.columns[:2]) == ["region_code", "region_name"], name
        cols = [r[0] for r in con.execute(f"describe select * from read_csv('{path}')").fetchall()]
        assert cols == list(df.columns), name
        n = con.execute(f"select count(*) from read_csv('{path}')").fetchone()[0]
        assert n == len(df), name
    city = con.execute(f"select region_name from read_csv('{out / 'b1_population.csv'}') limit 1").fetchone()[0]
    assert city == "杭州市"
    con.close()


def test_field_reports_start_with_a_bom_too(built):
    quality = Path(bulletin_folder(built)).parent / "quality"
    for name in ("follow_up", "coverage", "enumerator_scorecard", "progress"):
        assert (quality / f"{name}.csv").read_bytes()[:3] == BOM, name
