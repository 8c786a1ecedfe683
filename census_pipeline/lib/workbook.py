"""bulletin.xlsx as a statistics office releases it: one sheet per 表, each with its Chinese title,
unit, Chinese column headers, the figures formatted as in the communiqué, the source and the
table's footnotes; a notes sheet (说明) with the method notes and the publication stamp.

Labels, not codes: regions by name (杭州市, 上城区 ...), long-form categories by their code-list
labels. The CSVs keep the codes for machines; the workbook is for people. Every text cell is
spreadsheet-safe (lib/safe_cells.py) and no cell is a formula.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

from census_pipeline.lib.bulletin_html import (
    CATEGORY_LABELS,
    LABELS,
    NOTES,
    POST_STRATUM_LABELS,
    TABLE_TITLES,
)
from census_pipeline.lib.codes import code_list
from census_pipeline.lib.safe_cells import neutralise

SOURCE = "资料来源：杭州市第七次全国人口普查（标准时点为2020年11月1日零时）。"
ISSUER = "杭州市统计局　杭州市第七次全国人口普查领导小组办公室"

COUNT = "#,##0"  # counts: thousands separators, as the communiqué writes 11,936,010
TWO_DECIMALS = "0.00"  # percentages and ratios: two decimals (108.67, 13.02)
ONE_DECIMAL = "#,##0.0"
TEXT = "@"

TWO_DECIMAL_COLUMNS = {"share_of_city_pct", "avg_family_household_size", "sex_ratio", "pct_0_14", "pct_15_59",
                       "pct_60_plus", "pct_65_plus", "avg_years_schooling_15_plus", "illiteracy_pct", "pct_han",
                       "pct_minority", "urbanization_pct", "pct", "pct_se", "pct_ci95_low", "pct_ci95_high",
                       "net_omission_pct", "ci_low_pct", "ci_high_pct", "match_rate_pct", "correct_enumeration_pct"}
ONE_DECIMAL_COLUMNS = {"se"}

SHEET_NAMES = {  # Excel allows 31 characters and no []:*?/\ in a sheet name
    "b1_population": "表1 常住人口", "b2_sex": "表2 性别构成", "b3_age": "表3 年龄构成", "b4_education": "表4 受教育程度",
    "b5_ethnicity": "表5 民族构成", "b6_migration": "表6 流动人口", "b7_urban_rural": "表7 城乡人口",
    "b8_hk_macao_taiwan_foreign": "表8 港澳台和外籍", "t1_township_population": "附表1 乡镇街道",
    "lf_marital_status": "附表2 婚姻状况", "lf_employment": "附表3 就业状况", "lf_industry": "附表4 行业构成",
    "pes_estimates": "附表5 登记质量",
}
UNITS = {
    "b1_population": "单位：人、户、%", "b2_sex": "单位：人", "b3_age": "单位：人、%",
    "b4_education": "单位：人/10万人、年、人、%", "b5_ethnicity": "单位：人、%", "b6_migration": "单位：人",
    "b7_urban_rural": "单位：人、%", "b8_hk_macao_taiwan_foreign": "单位：人", "t1_township_population": "单位：人、户",
    "lf_marital_status": "单位：人、%", "lf_employment": "单位：人、%", "lf_industry": "单位：人、%",
    "pes_estimates": "单位：人、%",
}
FOOTNOTES = {  # outputs.md, in the office's words
    "b1_population": ["家庭户或集体户中至少有一人为常住人口的计为一户；户的人数为其中常住人口的人数。"],
    "b2_sex": ["性别比以女性为100，为男性人口对女性人口的比例。"],
    "b3_age": ["65岁及以上人口包含在60岁及以上人口中。"],
    "b4_education": ["大学指大专及以上。每10万人口中的人数和文盲率均以全部常住人口为分母。",
                     "平均受教育年限按15岁及以上常住人口计算。"],
    "b5_ethnicity": ["少数民族人口为汉族以外的各民族人口。"],
    "b6_migration": ["人户分离人口指居住地与户口登记地所在的乡镇街道不一致且离开户口登记地半年以上的人口；"
                     "流动人口为人户分离人口中扣除市辖区内人户分离的人口。"],
    "b7_urban_rural": ["城镇人口为居住在城镇（城乡分类代码以1开头）的普查小区的人口。"],
    "b8_hk_macao_taiwan_foreign": ["港澳台居民和外籍人员不计入常住人口。"],
    "t1_township_population": ["区、县（市）以下数据经单元键扰动法小数保护处理（见说明），各乡镇街道数据之和不等于区、县（市）合计。"],
    "lf_marital_status": ["长表抽样加权估计，括号区间为95%置信区间（见说明）。"],
    "lf_employment": ["长表抽样加权估计，括号区间为95%置信区间（见说明）。"],
    "lf_industry": ["长表抽样加权估计；行业按《国民经济行业分类》（GB/T 4754—2017）门类。"],
    "pes_estimates": ["普查登记结束后开展事后质量抽查，采用双系统估计计算净漏登率；区、县（市）的估计为综合估计"
                      "（各事后分层的覆盖系数乘以该区、县（市）的登记人数）。",
                      "置信区间按普查小区删除一组刀切法计算。"],
}
PES_COLUMNS = ["region_name", "census_count", "dse", "dse_ci_half_width", "net_omission_pct", "ci_low_pct",
               "ci_high_pct", "match_rate_pct", "correct_enumeration_pct", "p_sample_persons"]
DROPPED = {"region_code", "county_code", "township_code"}  # codes stay in the CSVs


@dataclasses.dataclass
class Sheet:
    """One released table: its tab, title, unit, headers, rows and footnotes."""

    name: str
    title: str
    unit: str
    columns: list[str]  # column names as in the warehouse
    rows: list[tuple]
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def headers(self) -> list[str]:
        return [LABELS.get(c, c) for c in self.columns]


def number_format(column: str, values) -> str:
    if column in TWO_DECIMAL_COLUMNS:
        return TWO_DECIMALS
    if column in ONE_DECIMAL_COLUMNS:
        return ONE_DECIMAL
    if any(isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in values):
        return COUNT
    return TEXT


def category_labels(table: str) -> dict[str, str]:
    """Category code -> label: from the code-list seed when there is one (marital status), else
    the bulletin's own list (employment, GB/T 4754 sections)."""
    if table == "lf_marital_status":
        return {r["code"]: r["label_zh"] for r in code_list("marital_status")}
    return CATEGORY_LABELS.get(table, {})


def region_names() -> dict[str, str]:
    return {r["code"]: r["name_zh"] for r in code_list("regions")}


def table_sheet(name: str, columns: list[str], rows: list[tuple]) -> Sheet:
    """A published table as its sheet: codes dropped (region_name says where), categories labelled."""
    keep = [i for i, c in enumerate(columns) if c not in DROPPED or "region_name" not in columns]
    labels = category_labels(name)
    cat = columns.index("category") if "category" in columns else None
    shown = [tuple(labels.get(r[i], r[i]) if i == cat else r[i] for i in keep) for r in rows]
    return Sheet(SHEET_NAMES.get(name, name[:31]), TABLE_TITLES.get(name, name), UNITS.get(name, ""),
                 [columns[i] for i in keep], shown, FOOTNOTES.get(name, []))


def pes_sheet(rows: list[dict]) -> Sheet | None:
    """The coverage survey (事后质量抽查): the city and county rows of quality.pes_estimates."""
    names = region_names()
    picked = [r for r in rows if r["level"] in ("city", "county")]
    if not picked:
        return None
    shown = [tuple(names.get(r["region_or_stratum"], POST_STRATUM_LABELS.get(r["region_or_stratum"],
                                                                            r["region_or_stratum"]))
                   if c == "region_name" else r[c] for c in PES_COLUMNS) for r in picked]
    return Sheet(SHEET_NAMES["pes_estimates"], "附表5 各区、县（市）人口普查登记质量（事后质量抽查）", UNITS["pes_estimates"],
                 list(PES_COLUMNS), shown, FOOTNOTES["pes_estimates"])


def _width(value) -> int:
    text = f"{value:,.2f}" if isinstance(value, float | Decimal) else f"{value:,}" if isinstance(value, int) else str(value or "")
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _cell_value(v):
    if isinstance(v, Decimal):
        return float(v)
    return neutralise(v)


def write_workbook(path: Path, sheets: list[Sheet], stamp=None, notes: list[str] = NOTES) -> None:
    """Write the sheets and a notes sheet (说明: method notes, the stamp) to `path`; the stamp
    also goes into the document properties (title, subject, keywords, custom properties)."""
    from openpyxl import Workbook
    from openpyxl.packaging.custom import StringProperty
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    thin = Side(style="thin", color="999999")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    wb = Workbook()
    wb.remove(wb.active)
    for sheet in sheets:
        ws = wb.create_sheet(sheet.name)
        n = len(sheet.columns)
        ws.append([neutralise(sheet.title)])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(n, 1))
        ws["A1"].font = Font(bold=True, size=14)
        ws["A1"].alignment = Alignment(horizontal="center")
        ws.append([neutralise(sheet.unit)])
        ws.append([neutralise(h) for h in sheet.headers])
        for c in ws[3]:
            c.font = Font(bold=True)
            c.fill = PatternFill("solid", fgColor="F3EEE6")
            c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            c.border = box
        formats = [number_format(col, [r[i] for r in sheet.rows]) for i, col in enumerate(sheet.columns)]
        for r in sheet.rows:
            ws.append([_cell_value(v) for v in r])
            for c, fmt in zip(ws[ws.max_row], formats, strict=True):
                c.number_format = fmt
                c.border = box
        after = ws.max_row + 1
        for i, line in enumerate([SOURCE, *(f"注：{t}" for t in sheet.notes)]):
            ws.cell(row=after + i, column=1, value=neutralise(line))
        for i, header in enumerate(sheet.headers, start=1):
            widest = max([_width(header) * 0.8] + [_width(r[i - 1]) for r in sheet.rows])
            ws.column_dimensions[get_column_letter(i)].width = min(max(8, widest + 2), 40)
        ws.freeze_panes = "B4"
        ws.print_title_rows = "1:3"  # title, unit and headers repeat on every printed page
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.orientation = "landscape" if n > 6 else "portrait"
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    _notes_sheet(wb, notes, stamp, Font)
    props = wb.properties
    props.title = "杭州市第七次全国人口普查主要数据公报"
    props.creator = ISSUER
    props.subject = "主要数据公报 统计表"
    if stamp is not None:
        props.keywords = f"run_id={stamp.run_id}; code_version={stamp.code_version}; data_snapshot={stamp.data_snapshot}"
        props.description = "; ".join(f"{k}={v}" for k, v in dataclasses.asdict(stamp).items())
        for key, value in dataclasses.asdict(stamp).items():
            wb.custom_doc_props.append(StringProperty(name=key, value=str(value)))
    wb.save(path)


def _notes_sheet(wb, notes: list[str], stamp, font_cls) -> None:
    from openpyxl.styles import Alignment

    ws = wb.create_sheet("说明")
    ws.append(["说明"])
    ws["A1"].font = font_cls(bold=True, size=14)
    ws.append([ISSUER])
    ws.append([])
    for i, note in enumerate(notes, start=1):
        ws.append([neutralise(f"{i}. {note}")])
        ws.cell(row=ws.max_row, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    ws.append([])
    ws.append(["各表"])
    for sheet in wb.worksheets[:-1]:
        ws.append([neutralise(sheet["A1"].value)])
    if stamp is not None:
        ws.append([])
        ws.append(["发布信息（核对：同目录 manifest.json 列出每个文件的 sha256）"])
        for label, value in stamp.lines():
            ws.append([label, neutralise(value)])
            ws.cell(row=ws.max_row, column=2).number_format = TEXT
    ws.column_dimensions["A"].width = 100
    ws.column_dimensions["B"].width = 70
