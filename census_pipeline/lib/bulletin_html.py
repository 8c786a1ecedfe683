"""The bulletin (主要数据公报) as one self-contained HTML page: text, tables and inline SVG
charts, laid out like a statistics bureau's communiqué. Opens offline (no CDN, no script).

Input: the published tables as {name: (columns, rows)}; output: an HTML string.
"""

from __future__ import annotations

import html
import math
from decimal import Decimal

from census_pipeline.lib.codes import CITY_CODE, CITY_NAME, code_list

CENSUS_2010_POPULATION = 8_700_373  # Hangzhou, sixth census (published_figures.md)

LABELS = {
    "region_code": "代码", "region_name": "地区", "population": "常住人口", "share_of_city_pct": "占全市比重(%)",
    "family_households": "家庭户(户)", "family_household_population": "家庭户人口",
    "collective_households": "集体户(户)", "collective_household_population": "集体户人口",
    "avg_family_household_size": "平均每个家庭户人口", "male": "男", "female": "女", "sex_ratio": "性别比(女=100)",
    "age_0_14": "0—14岁", "age_15_59": "15—59岁", "age_60_plus": "60岁及以上", "age_65_plus": "其中65岁及以上",
    "pct_0_14": "0—14岁(%)", "pct_15_59": "15—59岁(%)", "pct_60_plus": "60岁及以上(%)", "pct_65_plus": "65岁及以上(%)",
    "university_per_100k": "大学(每10万人)", "high_school_per_100k": "高中(每10万人)",
    "junior_secondary_per_100k": "初中(每10万人)", "primary_per_100k": "小学(每10万人)",
    "avg_years_schooling_15_plus": "15岁及以上平均受教育年限", "illiterate_15_plus": "文盲人口(15岁及以上)",
    "illiteracy_pct": "文盲率(%)", "han": "汉族", "minority": "少数民族", "pct_han": "汉族(%)",
    "pct_minority": "少数民族(%)", "hukou_separated": "人户分离人口", "intra_city_separated": "市辖区内人户分离",
    "floating": "流动人口", "inter_provincial_floating": "跨省流动人口", "urban": "城镇人口", "rural": "乡村人口",
    "urbanization_pct": "城镇化率(%)", "hk_macao_taiwan": "港澳台居民", "foreign": "外籍人员",
    "township_code": "乡镇街道代码", "households": "户数", "county_code": "所属区、县（市）",
    "category": "类别", "estimate": "估计数(人)", "se": "标准误", "ci95_low": "95%置信下限", "ci95_high": "95%置信上限",
    "pct": "比重(%)", "pct_se": "比重标准误", "pct_ci95_low": "比重95%下限", "pct_ci95_high": "比重95%上限",
    # the coverage survey (quality.pes_estimates)
    "region_or_stratum": "地区", "census_count": "普查登记人数", "dse": "双系统估计人数",
    "dse_ci_half_width": "估计人数95%置信区间半宽", "net_omission_pct": "净漏登率(%)",
    "ci_low_pct": "净漏登率95%下限(%)", "ci_high_pct": "净漏登率95%上限(%)", "match_rate_pct": "抽查匹配率(%)",
    "correct_enumeration_pct": "登记正确率(%)", "p_sample_persons": "抽查人数",
}
CATEGORY_LABELS = {
    "lf_marital_status": {"1": "未婚", "2": "有配偶", "3": "离婚", "4": "丧偶"},
    "lf_employment": {"1": "上周工作", "2": "上周未工作"},
    "lf_industry": {"A": "农、林、牧、渔业", "B": "采矿业", "C": "制造业", "D": "电力、热力、燃气及水生产和供应业",
                    "E": "建筑业", "F": "批发和零售业", "G": "交通运输、仓储和邮政业", "H": "住宿和餐饮业",
                    "I": "信息传输、软件和信息技术服务业", "J": "金融业", "K": "房地产业", "L": "租赁和商务服务业",
                    "M": "科学研究和技术服务业", "N": "水利、环境和公共设施管理业", "O": "居民服务、修理和其他服务业",
                    "P": "教育", "Q": "卫生和社会工作", "R": "文化、体育和娱乐业", "S": "公共管理、社会保障和社会组织",
                    "T": "国际组织"},
}

NOTES = [  # 注释: the method notes, shared by bulletin.html and the workbook's notes sheet
    "本公报数据以2020年11月1日零时为标准时点。",
    "常住人口、人户分离人口、流动人口按普查方案的定义计算；数据经过审核、编辑、插补和重复登记剔除。",
    "百分比按整数计数计算，四舍五入（远离零）保留两位小数。",
    "区、县（市）以下的数据（附表1）采用单元键扰动法（cell-key method，英国国家统计局方法）进行小数保护："
    "每条记录有固定的记录键，单元的键为记录键之和取模256；计数为1—4的单元按单元键发布为0或5（期望不变），"
    "5及以上的单元加上由单元键决定的−2至+2的扰动且不小于5。同一单元每次发布结果相同；人口数为发布的男女之和，"
    "因此不能由合计数倒推出被保护的小数。",
    "长表数据来自10%的抽样户：设计权数为抽中概率的倒数，并按区、县（市）×性别×年龄组校准到全面登记数；"
    "标准误采用按普查小区分组的删除一组刀切法（20组）计算，95%置信区间为估计值±1.96倍标准误。",
]

TABLE_TITLES = {
    "b1_population": "表1 各区、县（市）常住人口和户别人口",
    "b2_sex": "表2 各区、县（市）人口性别构成",
    "b3_age": "表3 各区、县（市）人口年龄构成",
    "b4_education": "表4 各区、县（市）每10万人口中拥有的各类受教育程度人数",
    "b5_ethnicity": "表5 各区、县（市）民族构成",
    "b6_migration": "表6 各区、县（市）人户分离与流动人口",
    "b7_urban_rural": "表7 各区、县（市）城乡人口",
    "b8_hk_macao_taiwan_foreign": "表8 港澳台居民和外籍人员",
    "t1_township_population": "附表1 各乡镇街道常住人口（经小数保护处理）",
    "lf_marital_status": "附表2 15岁及以上人口婚姻状况（长表抽样估计）",
    "lf_employment": "附表3 16岁及以上人口就业状况（长表抽样估计）",
    "lf_industry": "附表4 就业人口行业构成（长表抽样估计）",
}

CSS = """
body{font-family:"Noto Serif CJK SC","Source Han Serif SC","SimSun",serif;max-width:980px;margin:2em auto;
     color:#222;line-height:1.8;padding:0 1em}
h1{text-align:center;font-size:1.7em;margin-bottom:.2em} .issuer{text-align:center;color:#555}
h2{font-size:1.25em;border-left:5px solid #b22;padding-left:.5em;margin-top:2em}
p{text-indent:2em} table{border-collapse:collapse;width:100%;font-size:.85em;margin:1em 0}
th,td{border:1px solid #999;padding:.25em .4em;text-align:right} th{background:#f3eee6;text-align:center}
td:nth-child(2),td:first-child{text-align:left} caption{font-weight:bold;margin:.5em}
figure{margin:1.5em 0;text-align:center} figcaption{font-size:.9em;color:#444}
.note{font-size:.85em;color:#444} .note p{text-indent:0}
@page{size:A4;margin:18mm 15mm 20mm}
@media print{
 body{max-width:none;margin:0;padding:0;font-size:10.5pt;line-height:1.6}
 h2{break-before:page;page-break-before:always} h1~h2:first-of-type{break-before:auto;page-break-before:auto}
 h1,h2,caption,figcaption{break-after:avoid;page-break-after:avoid}
 p{orphans:3;widows:3} table{font-size:8.5pt} thead{display:table-header-group}
 tr,figure,svg{break-inside:avoid;page-break-inside:avoid} svg{max-width:100%;height:auto}
 footer.stamp{break-inside:avoid}
}
footer.stamp{margin-top:3em;border-top:1px solid #ccc;font-size:.75em;color:#666;line-height:1.6}
footer.stamp span{display:block} footer.stamp code{word-break:break-all}
"""


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, Decimal | float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return html.escape(str(v))


def table_html(name: str, columns: list[str], rows: list[tuple], title: str | None = None) -> str:
    head = "".join(f"<th>{html.escape(LABELS.get(c, c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in r) + "</tr>" for r in rows)
    return (f'<table id="{name}"><caption>{html.escape(title or TABLE_TITLES.get(name, name))}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def nice_ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """Round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten), at most `most`."""
    span = (hi - lo) or abs(hi) or 1.0
    step = 10 ** math.floor(math.log10(span / most))
    for factor in (1, 2, 5, 10):
        if span / (step * factor) <= most:
            step *= factor
            break
    # the last tick at or beyond the largest value (rounded first: 0.07 / 0.01 is 7.000000000000001)
    first, last = math.floor(round(lo / step, 9)), math.ceil(round(hi / step, 9))
    return [round(k * step, 10) for k in range(first, max(last, first) + 1)]  # every bar ends inside the axis


def _tick_label(v: float, unit: str) -> str:
    text = f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}".rstrip("0").rstrip(".")
    return text + unit


def _x_axis(x, ticks: list[float], y: float, top: float, unit: str) -> str:
    """A value axis under a chart: the line, a tick and its label per value, faint grid lines up to `top`."""
    parts = [f'<line x1="{x(ticks[0]):.1f}" y1="{y:.1f}" x2="{x(ticks[-1]):.1f}" y2="{y:.1f}" stroke="#555"/>']
    for t in ticks:
        parts.append(f'<line x1="{x(t):.1f}" y1="{top:.1f}" x2="{x(t):.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<line x1="{x(t):.1f}" y1="{y:.1f}" x2="{x(t):.1f}" y2="{y + 4:.1f}" stroke="#555"/>')
        parts.append(f'<text x="{x(t):.1f}" y="{y + 16:.1f}" text-anchor="middle" font-size="10">'
                     f'{html.escape(_tick_label(t, unit))}</text>')
    return "".join(parts)


def hbar_svg(chart_id: str, labels: list[str], values: list[float], unit: str = "", color: str = "#b22222") -> str:
    """A horizontal bar chart, with a value axis."""
    width, bar_h, left, right = 760, 19, 150, 110
    top, axis_h = 10, 24
    height = top * 2 + bar_h * len(values) + axis_h
    # a zero denominator gives an empty cell (rules.md, Rounding): no bar, no figure
    ticks = nice_ticks(0.0, max([float(v) for v in values if v is not None], default=0.0) or 1.0)
    vmax = ticks[-1]

    def x(v: float) -> float:
        return left + (width - left - right) * float(v) / vmax

    bottom = top + bar_h * len(values)
    parts = [f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img">', _x_axis(x, ticks, bottom + 2, top, unit)]
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        y = top + i * bar_h
        w = x(v or 0) - left
        parts.append(f'<text x="{left - 8}" y="{y + bar_h * .7}" text-anchor="end" font-size="13">{html.escape(lab)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{bar_h - 6}" fill="{color}"/>')
        parts.append(f'<text x="{left + w + 6:.1f}" y="{y + bar_h * .7}" font-size="12">{_fmt(v)}{unit if v is not None else ""}</text>')
    parts.append("</svg>")
    return "".join(parts)


def pyramid_svg(chart_id: str, groups: list[tuple[int, int, int]]) -> str:
    """Population pyramid: (age group start, male, female), youngest at the bottom, with a
    persons axis under each side."""
    width, bar_h, mid, gap = 760, 18, 380, 30
    height = 40 + bar_h * len(groups) + 24
    ticks = nice_ticks(0.0, max([max(m, f) for _, m, f in groups] + [1]), most=4)
    scale = (mid - gap - 30) / ticks[-1]
    parts = [f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img">',
             f'<text x="{mid - 60}" y="16" text-anchor="end" font-size="13">男</text>',
             f'<text x="{mid + 60}" y="16" font-size="13">女</text>']
    bottom = 24 + bar_h * len(groups) + 2
    parts.append(_x_axis(lambda v: mid - gap - v * scale, ticks, bottom, 24, "人"))
    parts.append(_x_axis(lambda v: mid + gap + v * scale, ticks, bottom, 24, "人"))
    for i, (start, m, f) in enumerate(sorted(groups, reverse=True)):
        y = 24 + i * bar_h
        label = f"{start}+" if start >= 85 else f"{start}—{start + 4}"
        parts.append(f'<rect x="{mid - gap - m * scale:.1f}" y="{y}" width="{m * scale:.1f}" height="{bar_h - 3}" fill="#2b5d9b"/>')
        parts.append(f'<rect x="{mid + gap}" y="{y}" width="{f * scale:.1f}" height="{bar_h - 3}" fill="#c0392b"/>')
        parts.append(f'<text x="{mid}" y="{y + bar_h * .7}" text-anchor="middle" font-size="11">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render(tables: dict[str, tuple[list[str], list[tuple]]], pyramid: list[tuple[int, int, int]],
           extra_sections: list[str] | None = None, stamp=None) -> str:
    def rows_of(name):
        cols, rows = tables[name]
        return [dict(zip(cols, r, strict=True)) for r in rows]

    b1, b2, b3, b4 = rows_of("b1_population"), rows_of("b2_sex"), rows_of("b3_age"), rows_of("b4_education")
    b5, b6, b7 = rows_of("b5_ethnicity"), rows_of("b6_migration"), rows_of("b7_urban_rural")
    city = {k: v for t in (b1, b2, b3, b4, b5, b6, b7) for k, v in t[0].items()}
    counties = b1[1:]
    pop = city["population"]
    change = pop - CENSUS_2010_POPULATION
    if pop > CENSUS_2010_POPULATION / 2:
        compare = (f"与2010年第六次全国人口普查的{CENSUS_2010_POPULATION:,}人相比，{'增加' if change >= 0 else '减少'}"
                   f"{abs(change):,}人，{'增长' if change >= 0 else '下降'}{abs(change) / CENSUS_2010_POPULATION * 100:.2f}%。")
    else:
        compare = "（本期为示范数据，规模小于实际，不与2010年第六次全国人口普查比较。）"
    sections = [
        ("一、常住人口", f"<p>全市常住人口为{pop:,}人。{compare}</p><figure>"
                     + hbar_svg("chart_population_by_district", [r["region_name"] for r in counties],
                                [r["population"] for r in counties], "人")
                     + "<figcaption>图1 各区、县（市）常住人口</figcaption></figure>"
                     + table_html("b1_population", *tables["b1_population"])),
        ("二、户别人口", f"<p>全市共有家庭户{city['family_households']:,}户，集体户{city['collective_households']:,}户，"
                     f"家庭户人口为{city['family_household_population']:,}人，集体户人口为"
                     f"{city['collective_household_population']:,}人。平均每个家庭户的人口为"
                     f"{_fmt(city['avg_family_household_size'])}人。</p>"),
        ("三、性别构成", f"<p>全市常住人口中，男性人口为{city['male']:,}人，占{_pct(city['male'], pop)}%；女性人口为"
                     f"{city['female']:,}人，占{_pct(city['female'], pop)}%。总人口性别比（以女性为100，男性对女性的比例）为"
                     f"{_fmt(city['sex_ratio'])}。</p>" + table_html("b2_sex", *tables["b2_sex"])),
        ("四、年龄构成", f"<p>全市常住人口中，0—14岁人口为{city['age_0_14']:,}人，占{_fmt(city['pct_0_14'])}%；15—59岁人口为"
                     f"{city['age_15_59']:,}人，占{_fmt(city['pct_15_59'])}%；60岁及以上人口为{city['age_60_plus']:,}人，占"
                     f"{_fmt(city['pct_60_plus'])}%，其中65岁及以上人口为{city['age_65_plus']:,}人，占{_fmt(city['pct_65_plus'])}%。</p>"
                     + f"<figure>{pyramid_svg('chart_population_pyramid', pyramid)}<figcaption>图2 全市人口金字塔（五岁年龄组）"
                       "</figcaption></figure>" + table_html("b3_age", *tables["b3_age"])),
        ("五、受教育程度", f"<p>全市常住人口中，每10万人中拥有大学文化程度的为{_fmt(city['university_per_100k'])}人；"
                       f"15岁及以上人口的平均受教育年限为{_fmt(city['avg_years_schooling_15_plus'])}年；文盲人口为"
                       f"{city['illiterate_15_plus']:,}人，文盲率为{_fmt(city['illiteracy_pct'])}%。</p>"
                       + "<figure>" + hbar_svg("chart_education", ["大学", "高中", "初中", "小学"],
                                               [city["university_per_100k"], city["high_school_per_100k"],
                                                city["junior_secondary_per_100k"], city["primary_per_100k"]], "人", "#2b5d9b")
                       + "<figcaption>图3 全市每10万人口中拥有的各类受教育程度人数</figcaption></figure>"
                       + table_html("b4_education", *tables["b4_education"])),
        ("六、民族构成", f"<p>全市常住人口中，汉族人口为{city['han']:,}人，占{_fmt(city['pct_han'])}%；各少数民族人口为"
                     f"{city['minority']:,}人，占{_fmt(city['pct_minority'])}%。</p>" + table_html("b5_ethnicity", *tables["b5_ethnicity"])),
        ("七、人户分离与流动人口", f"<p>全市常住人口中，人户分离人口为{city['hukou_separated']:,}人，其中市辖区内人户分离人口为"
                            f"{city['intra_city_separated']:,}人，流动人口为{city['floating']:,}人。流动人口中，跨省流动人口为"
                            f"{city['inter_provincial_floating']:,}人。</p>"
                            + "<figure>" + hbar_svg("chart_migration", [r["region_name"] for r in b6[1:]],
                                                    [r["floating"] for r in b6[1:]], "人", "#8e6c2b")
                            + "<figcaption>图4 各区、县（市）流动人口</figcaption></figure>"
                            + table_html("b6_migration", *tables["b6_migration"])),
        ("八、城乡人口", f"<p>全市常住人口中，居住在城镇的人口为{city['urban']:,}人，占{_fmt(city['urbanization_pct'])}%；居住在乡村的人口为"
                     f"{city['rural']:,}人。</p>"
                     + "<figure>" + hbar_svg("chart_urban_rural", [r["region_name"] for r in b7[1:]],
                                             [r["urbanization_pct"] for r in b7[1:]], "%", "#2e7d32")
                     + "<figcaption>图5 各区、县（市）城镇化率</figcaption></figure>"
                     + table_html("b7_urban_rural", *tables["b7_urban_rural"])),
        ("九、港澳台居民和外籍人员", "<p>普查登记的居住在本市的港澳台居民和外籍人员不计入常住人口，单独列示如下。</p>"
                              + table_html("b8_hk_macao_taiwan_foreign", *tables["b8_hk_macao_taiwan_foreign"])),
    ]
    sections += _supplementary(tables)
    body = "".join(f"<h2>{t}</h2>{c}" for t, c in sections) + "".join(extra_sections or [])
    notes = ("<h2>注释</h2><div class='note'>" + "".join(f"<p>{i}. {html.escape(n)}</p>" for i, n in enumerate(NOTES, 1))
             + "</div>")
    return ("<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
            "<title>杭州市第七次全国人口普查主要数据公报</title>"
            f"<style>{CSS}</style></head><body><h1>杭州市第七次全国人口普查主要数据公报</h1>"
            f"<p class='issuer'>杭州市统计局　杭州市第七次全国人口普查领导小组办公室</p>{body}{notes}"
            f"{footer(stamp)}</body></html>")


def footer(stamp) -> str:
    """The provenance line under the bulletin: run, code version, data snapshot, time (lib/publish.Stamp)."""
    if stamp is None:
        return ""
    items = "".join(f"<span>{html.escape(label)}：<code>{html.escape(value)}</code></span>"
                    for label, value in stamp.lines())
    return f"<footer class='stamp' id='stamp'>{items}<span>核对：同目录 manifest.json 列出每个文件的 sha256</span></footer>"


def _supplementary(tables) -> list[tuple[str, str]]:
    """The protected township table and the long-form estimates (city rows), when published."""
    out = []
    if "t1_township_population" in tables:
        out.append(("十、乡镇街道人口", "<p>各乡镇街道的人口、户数和性别数据低于区、县（市）一级，经小数保护处理后发布（见注释4）。</p>"
                    + table_html("t1_township_population", *tables["t1_township_population"])))
    lf = [n for n in ("lf_marital_status", "lf_employment", "lf_industry") if n in tables]
    if lf:
        parts = ["<p>以下为长表抽样调查的加权估计（全市），括号中为95%置信区间（见注释5）。</p>"]
        for name in lf:
            cols, rows = tables[name]
            city_rows = [r for r in rows if r[cols.index("region_code")] == CITY_CODE]
            keep = ["category", "estimate", "ci95_low", "ci95_high", "pct", "pct_ci95_low", "pct_ci95_high"]
            labels = CATEGORY_LABELS[name]
            shown = [tuple(labels.get(r[cols.index(c)], r[cols.index(c)]) if c == "category" else r[cols.index(c)]
                           for c in keep) for r in city_rows]
            parts.append(table_html(name, keep, shown))
        out.append(("十一、长表抽样数据", "".join(parts)))
    return out


def _pct(num: int, den: int) -> str:
    return _fmt((Decimal(num) * 100 / Decimal(den)).quantize(Decimal("0.01"), "ROUND_HALF_UP")) if den else ""


def interval_svg(chart_id: str, labels: list[str],
                 series: list[tuple[str, str, list[tuple[float, float, float] | None]]], unit: str = "%") -> str:
    """Estimates with their 95% intervals: per row, a dot and a whisker for each series (name,
    colour, one (estimate, low, high) or None per row), side by side; zero marked, a legend above
    and a value axis below."""
    width, row_h, left, right = 760, 14, 150, 20
    top, legend_h, axis_h = 8, 18, 26
    body_top = top + legend_h
    height = body_top + row_h * len(labels) + axis_h
    values = [v for _, _, vals in series for t in vals if t is not None for v in t]
    ticks = nice_ticks(min([0.0, *values]), max([0.0, *values]) or 1.0)
    lo_all, span = ticks[0], (ticks[-1] - ticks[0]) or 1.0

    def x(v: float) -> float:
        return left + (width - left - right) * (float(v) - lo_all) / span

    bottom = body_top + row_h * len(labels)
    parts = [f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img">', _x_axis(x, ticks, bottom + 2, body_top, unit),
             f'<line x1="{x(0):.1f}" y1="{body_top - 2}" x2="{x(0):.1f}" y2="{bottom + 2}" stroke="#999" '
             'stroke-dasharray="3,3"/>']
    for k, (name, color, _) in enumerate(series):  # legend
        lx = left + k * 110
        parts.append(f'<circle cx="{lx + 5}" cy="{top + 5}" r="4" fill="{color}"/>'
                     f'<text x="{lx + 14}" y="{top + 9}" font-size="11">{html.escape(name)}</text>')
    offsets = [(k - (len(series) - 1) / 2) * 6 for k in range(len(series))]
    for i, lab in enumerate(labels):
        y = body_top + i * row_h + row_h / 2
        parts.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{html.escape(lab)}</text>')
        for (name, color, vals), dy in zip(series, offsets, strict=True):
            if vals[i] is None:
                continue
            est, lo, hi = vals[i]
            parts.append(f'<line x1="{x(lo):.1f}" y1="{y + dy:.1f}" x2="{x(hi):.1f}" y2="{y + dy:.1f}" '
                         f'stroke="{color}" stroke-width="2"><title>{html.escape(lab)} {html.escape(name)}: '
                         f'{_fmt(est)}{unit} ({_fmt(lo)}—{_fmt(hi)})</title></line>')
            parts.append(f'<circle cx="{x(est):.1f}" cy="{y + dy:.1f}" r="3" fill="{color}"/>')
    parts.append("</svg>")
    return "".join(parts)


# the city and the county groups by the names their seeds give them (regions, pes_county_groups)
POST_STRATUM_LABELS = {CITY_CODE: CITY_NAME, **{r["county_group"]: r["label_zh"] for r in code_list("pes_county_groups")},
                       "1": "男", "2": "女", "migrant": "外来", "local": "本地"}


def pes_section(city: dict, groups: list[dict], strata: list[dict]) -> str:
    """The bulletin's coverage section: the PES headline, an interval chart of the post-strata and
    the county-group table. `city`, `groups`, `strata`: rows of quality.pes_estimates."""
    head = (f"<p>普查登记结束后，在全市按区、县（市）和城乡分层抽取{city['eas']:,}个普查小区，由另行选调的普查员"
            f"独立复查登记{city['households']:,}户、{city['p_sample_persons']:,}人（事后质量抽查），与普查登记逐人比对。"
            f"经双系统估计（按区域组×性别×年龄组×是否外来人口分层），<strong>全市常住人口净漏登率为"
            f"{_fmt(city['net_omission_pct'])}%"
            + (f"，95%置信区间为{_fmt(city['ci_low_pct'])}%—{_fmt(city['ci_high_pct'])}%"
               if city["ci_low_pct"] is not None else "（各层仅抽中一个普查小区，无法计算置信区间）")
            + f"</strong>（抽查人口比对匹配率{_fmt(city['match_rate_pct'])}%，普查登记正确率"
            f"{_fmt(city['correct_enumeration_pct'])}%；标准误按普查小区删除一组刀切法计算）。</p>")

    def label(parts: list[str]) -> str:
        return "·".join(POST_STRATUM_LABELS.get(part, part) for part in parts)

    shown = [r for r in strata if r["estimation_cell"] == r["region_or_stratum"] and r["net_omission_pct"] is not None
             and r["ci_low_pct"] is not None]
    # one row per region group x sex x age group, local and migrant persons side by side: half the
    # rows of one per post-stratum, so the chart fits the section's page
    origins = ["local", "migrant"]
    rows: dict[str, dict[str, tuple]] = {}
    for r in shown:
        parts = r["region_or_stratum"].split("|")
        origin = parts[-1] if parts[-1] in origins else ""
        key = label(parts[:-1] if origin else parts)
        rows.setdefault(key, {})[origin] = (r["net_omission_pct"], r["ci_low_pct"], r["ci_high_pct"])
    series = [(POST_STRATUM_LABELS.get(o, "") or "各层", color, [rows[k].get(o) for k in rows])
              for o, color in (("local", "#2b5d9b"), ("migrant", "#b22222"), ("", "#555"))
              if any(o in v for v in rows.values())]
    chart = ("<figure>" + interval_svg("chart_pes_post_strata", list(rows), series)
             + "<figcaption>图6 各事后分层净漏登率及95%置信区间（按区域组·性别·年龄组，本地与外来人口并列；样本过少的分层"
               "并入所在区域组，未单列；抽查中未发现漏登的分层，刀切法区间宽度为0，不表示没有漏登）</figcaption></figure>"
             if shown else "")
    cols = ["region_or_stratum", "census_count", "dse", "net_omission_pct", "ci_low_pct", "ci_high_pct",
            "match_rate_pct", "correct_enumeration_pct"]
    def cell(r: dict, c: str):
        if c == "region_or_stratum":
            return POST_STRATUM_LABELS.get(r[c], r[c])
        if c == "dse" and r[c] is not None:  # a number of persons: shown as a count
            return int(round(r[c]))
        return r[c]

    rows = [tuple(cell(r, c) for c in cols) for r in groups]
    return f"<h2>十二、普查登记质量</h2>{head}{chart}" + table_html("pes_estimates", cols, rows)
