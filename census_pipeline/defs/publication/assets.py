"""Publication: the bulletin tables as CSV, one XLSX workbook and the HTML communiqué."""

import dagster as dg

from census_pipeline.lib.bulletin_html import pes_section, render
from census_pipeline.lib.metadata import markdown_table
from census_pipeline.resources import OutputDir, Warehouse

BULLETIN_TABLES = ["b1_population", "b2_sex", "b3_age", "b4_education", "b5_ethnicity", "b6_migration",
                   "b7_urban_rural", "b8_hk_macao_taiwan_foreign"]
# published beside b1-b8: below county level (protected) and long-form sample estimates
SUPPLEMENTARY_TABLES = ["t1_township_population", "lf_marital_status", "lf_employment", "lf_industry"]
PUBLISHED_TABLES = BULLETIN_TABLES + SUPPLEMENTARY_TABLES


@dg.asset(
    key=["bulletin", "published_files"],
    deps=[["bulletin", t] for t in PUBLISHED_TABLES] + [["bulletin", "chart_age_pyramid"], ["quality", "pes_estimates"]],
    group_name="publication", owners=["team:census-data"], kinds={"html", "csv", "xlsx"}, code_version="1",
    tags={"zone": "published"},
)
def published_files(context: dg.AssetExecutionContext, warehouse: Warehouse, output: OutputDir) -> dg.MaterializeResult:
    """The published bulletin (主要数据公报): b1-b8, the protected township table and the long-form
    estimates as CSV, one XLSX workbook, and bulletin.html.

    Written to $CENSUS_OUTPUT_DIR/bulletin/; the HTML opens offline (inline SVG charts, no CDN)."""
    folder = output.folder("bulletin")
    tables = {}
    with warehouse.connect(read_only=True) as con:
        for name in PUBLISHED_TABLES:
            con.execute(f"copy (select * from bulletin.{name} order by region_code) to '{folder / (name + '.csv')}' "
                        "(header, delimiter ',')")
            cur = con.execute(f"select * from bulletin.{name} order by region_code")
            tables[name] = ([d[0] for d in cur.description], cur.fetchall())
        pyramid = con.execute("select age_group_start, male, female from bulletin.chart_age_pyramid").fetchall()
        coverage = coverage_section(con)
    write_workbook(folder / "bulletin.xlsx", tables)
    (folder / "bulletin.html").write_text(render(tables, pyramid, [coverage] if coverage else None), encoding="utf-8")
    cols, rows = tables["b1_population"]
    context.log.info(f"bulletin written to {folder}")
    return dg.MaterializeResult(metadata={
        "folder": dg.MetadataValue.path(str(folder)),
        "bulletin_html": dg.MetadataValue.path(str(folder / "bulletin.html")),
        "resident_population": dg.MetadataValue.int(int(rows[0][cols.index("population")])),
        "b1_population": dg.MetadataValue.md(markdown_table(cols, rows)),
    })


def coverage_section(con) -> str | None:
    """The bulletin's PES section (net omission rate and interval), when a PES was run."""
    cur = con.execute("select * from quality.pes_estimates order by level_order, region_or_stratum")
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    city = next((r for r in rows if r["level"] == "city"), None)
    if city is None or city["net_omission_pct"] is None:
        return None
    city["eas"], city["households"] = con.execute(
        "select count(distinct ea_code), count(*) from raw.pes_submissions").fetchall()[0]
    return pes_section(city, [r for r in rows if r["level"] in ("city", "county_group")],
                       [r for r in rows if r["level"] == "post_stratum"])


def write_workbook(path, tables) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for name, (cols, rows) in tables.items():
        ws = wb.create_sheet(name)
        ws.append(cols)
        for c in ws[1]:
            c.font = Font(bold=True)
        for r in rows:
            ws.append([float(v) if hasattr(v, "as_tuple") else v for v in r])
        ws.freeze_panes = "C2"
    wb.save(path)
