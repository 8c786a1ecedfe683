"""The published bulletin on a generated census: every value of b1-b8 equals the truth."""

import csv
import html.parser
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from census_demo import generate
from census_pipeline.defs.publication.assets import BULLETIN_TABLES, PUBLISHED_TABLES
from tests.builders import bulletin_folder, materialize_into
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


def test_every_value_of_b1_to_b8_equals_the_truth(built):
    _, con, truth = built
    expected = expected_tables(truth)
    assert expected["b8"], "the census has residents from HK, Macao, Taiwan or abroad"
    for i, name in enumerate(BULLETIN_TABLES, start=1):
        assert (bulletin_folder(built) / f"{name}.csv").read_bytes()[:3] == b"\xef\xbb\xbf", name  # BOM, for Excel
        with open(bulletin_folder(built) / f"{name}.csv", encoding="utf-8-sig", newline="") as f:
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


def test_workbook_has_a_sheet_per_table_then_coverage_and_notes(built):
    wb = load_workbook(bulletin_folder(built) / "bulletin.xlsx", read_only=True)
    assert wb.sheetnames == ["表1 常住人口", "表2 性别构成", "表3 年龄构成", "表4 受教育程度", "表5 民族构成",
                             "表6 流动人口", "表7 城乡人口", "表8 港澳台和外籍", "附表1 乡镇街道", "附表2 婚姻状况",
                             "附表3 就业状况", "附表4 行业构成", "附表5 登记质量", "说明"]
    b2 = list(wb["表2 性别构成"].iter_rows(values_only=True))
    assert b2[0][0] == "表2 各区、县（市）人口性别构成" and b2[2] == ("地区", "男", "女", "性别比(女=100)")
    assert b2[3][0] == "杭州市"


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
    text = (bulletin_folder(built) / "bulletin.html").read_text(encoding="utf-8")
    parser = _Ids()
    parser.feed(text)
    assert set(PUBLISHED_TABLES) <= parser.ids
    assert {"chart_population_by_district", "chart_population_pyramid", "chart_education", "chart_migration",
            "chart_urban_rural"} <= parser.ids
    assert not parser.external and "<script" not in text  # opens offline
    assert "常住人口" in text and "人口金字塔" in text
    assert "stamp" in parser.ids  # the footer names the run, code version and data snapshot


@pytest.fixture(scope="module")
def tiny_townships(tmp_path_factory):
    """A census of 400 households spread over every township: many counts of 1-4 to protect."""
    tmp = tmp_path_factory.mktemp("tiny")
    generate(tmp / "landing", households=400, seed=8, min_township_households=1)
    result, con = materialize_into(tmp / "landing", tmp)
    assert result.success
    yield con
    con.close()


def test_township_table_protects_small_counts(tiny_townships):
    """No published cell of 1-4; totals are sums of published cells; and the differencing attack
    (county total minus the other townships' published cells) does not reliably give a
    protected count back."""
    con = tiny_townships
    true = {r[0]: r[1:] for r in con.execute("""
        select township_code, count(*) filter (where sex = '1'), count(*) filter (where sex = '2')
        from microdata.persons where is_counted group by 1""").fetchall()}
    pub = {r[0]: r[1:] for r in con.execute(
        "select region_code, county_code, population, male, female, households from bulletin.t1_township_population").fetchall()}
    assert set(pub) == set(true)
    for code, (_, population, male, female, households) in pub.items():
        assert population == male + female
        assert not any(1 <= v <= 4 for v in (population, male, female, households)), code
    protected = [(code, i) for code, counts in true.items() for i, v in enumerate(counts) if 1 <= v <= 4]
    assert len(protected) >= 10, "the small census has small cells to protect"
    county_totals = {r[0]: r[1:] for r in con.execute(
        "select region_code, male, female from bulletin.b2_sex").fetchall()}
    recovered = 0
    for code, i in protected:
        county = pub[code][0]
        others = sum(pub[o][2 + i] for o in pub if pub[o][0] == county and o != code)
        recovered += county_totals[county][i] - others == true[code][i]
    assert recovered <= len(protected) // 3, (recovered, len(protected))
    perturbed = sum(pub[c][2] != true[c][0] for c in pub)
    assert perturbed > len(pub) // 2  # published values are not the true ones


def test_long_form_intervals_cover_the_full_count(built):
    _, con, truth = built
    rows = {"330100": truth["city"], **truth["county"]}
    covered = total = 0
    for table, prefix in (("lf_marital_status", "marital_status_"), ("lf_employment", "worked_last_week_"),
                          ("lf_industry", "industry_")):
        for region, category, lo, hi, se in con.execute(
                f"select region_code, category, ci95_low, ci95_high, se from bulletin.{table}").fetchall():
            if se > 0:
                total += 1
                covered += lo <= rows[region].get(prefix + category, 0) <= hi
    assert total >= 50 and covered / total >= 0.85, (covered, total)
    weights = con.execute("select sum(weight * n_sampled_persons) from intermediate.int_long_form_weights "
                          "where replicate = 0").fetchone()[0]
    assert round(weights) == truth["city"]["population"]  # calibrated to the full count


def test_html_prints_on_a4_with_each_section_on_a_new_page(built):
    text = (bulletin_folder(built) / "bulletin.html").read_text(encoding="utf-8")
    css = text[text.index("<style>"):text.index("</style>")]
    assert "@page{size:A4" in css
    assert "h2{break-before:page" in css  # every section starts a page ...
    assert "h1,h2,caption,figcaption{break-after:avoid" in css  # ... and no heading is left at a page's foot
    assert "thead{display:table-header-group}" in css  # a table's header repeats on each page it spans
    assert "tr,figure,svg{break-inside:avoid" in css


def test_coverage_section_is_in_chinese_with_labels_and_formatted_numbers(built):
    import re

    _, con, _ = built
    text = (bulletin_folder(built) / "bulletin.html").read_text(encoding="utf-8")
    table = re.search(r'<table id="pes_estimates">(.*?)</table>', text).group(1)
    headers = re.findall(r"<th>(.*?)</th>", table)
    assert headers[0] == "地区" and all(any(ord(ch) > 0x2E80 for ch in h) and "_" not in h for h in headers), headers
    rows = [re.findall(r"<td>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1])]
    census_count, dse = con.execute(
        "select census_count, dse from quality.pes_estimates where level = 'city'").fetchone()
    assert rows[0][:3] == ["杭州市", f"{census_count:,}", f"{round(dse):,}"]
    assert {r[0] for r in rows[1:]} <= {"主城区", "新城区", "西部区县市"}, rows
    for r in rows:
        for cell in r[1:]:
            assert cell == "" or re.fullmatch(r"-?\d{1,3}(,\d{3})*(\.\d\d)?", cell), (r[0], cell)
