"""The published bulletin on a generated census: every value of b1-b8 equals the truth."""

import csv
import html.parser
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook

from census_pipeline.defs.publication.assets import BULLETIN_TABLES
from tests.bulletin_truth import expected_tables

COLUMNS = {  # outputs.md, after region_code and region_name
    "b1_population": ["population", "share_of_city_pct", "family_households", "family_household_population",
                      "collective_households", "collective_household_population", "avg_family_household_size"],
    "b2_sex": ["male", "female", "sex_ratio"],
    "b3_age": ["age_0_14", "age_15_59", "age_60_plus", "age_65_plus", "pct_0_14", "pct_15_59", "pct_60_plus",
               "pct_65_plus"],
    "b4_education": ["university_per_100k", "high_school_per_100k", "junior_secondary_per_100k", "primary_per_100k",
                     "avg_years_schooling_15_plus", "illiterate_15_plus", "illiteracy_pct"],
    "b5_ethnicity": ["han", "minority", "pct_han", "pct_minority"],
    "b6_migration": ["hukou_separated", "intra_city_separated", "floating", "inter_provincial_floating"],
    "b7_urban_rural": ["urban", "rural", "urbanization_pct"],
    "b8_hk_macao_taiwan_foreign": ["hk_macao_taiwan", "foreign"],
}


def folder(built) -> Path:
    _, con, _ = built
    path = next(r[2] for r in con.execute("pragma database_list").fetchall() if r[2])
    return Path(path).parent / "out" / "bulletin"


def test_every_value_of_b1_to_b8_equals_the_truth(built):
    _, con, truth = built
    expected = expected_tables(truth)
    assert expected["b8"], "the census has residents from HK, Macao, Taiwan or abroad"
    for i, name in enumerate(BULLETIN_TABLES, start=1):
        with open(folder(built) / f"{name}.csv", encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        assert list(rows[0]) == ["region_code", "region_name", *COLUMNS[name]], name
        want = expected[f"b{i}"]
        assert [r["region_code"] for r in rows] == sorted(want), name
        for r in rows:
            for col, value in want[r["region_code"]].items():
                got = r[col]
                if isinstance(value, Decimal):
                    assert Decimal(got) == value and len(got.split(".")[1]) == 2, (name, r["region_code"], col)
                elif value is None:
                    assert got == "", (name, col)
                else:
                    assert got == str(value), (name, r["region_code"], col, got, value)


def test_workbook_has_every_sheet(built):
    wb = load_workbook(folder(built) / "bulletin.xlsx", read_only=True)
    assert wb.sheetnames == BULLETIN_TABLES
    b2 = list(wb["b2_sex"].iter_rows(values_only=True))
    assert b2[0] == ("region_code", "region_name", "male", "female", "sex_ratio") and b2[1][0] == "330100"


class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.tags, self.external = set(), [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.add(a["id"])
        for k in ("src", "href"):
            if a.get(k, "").startswith(("http:", "https:", "//")):
                self.external.append(a[k])


def test_html_parses_and_holds_every_table_and_chart_offline(built):
    text = (folder(built) / "bulletin.html").read_text(encoding="utf-8")
    parser = _Ids()
    parser.feed(text)
    assert set(BULLETIN_TABLES) <= parser.ids
    assert {"chart_population_by_district", "chart_population_pyramid", "chart_education", "chart_migration",
            "chart_urban_rural"} <= parser.ids
    assert not parser.external and "<script" not in text  # opens offline
    assert "常住人口" in text and "人口金字塔" in text
