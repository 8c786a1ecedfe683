"""Publication: the bulletin tables as CSV, one XLSX workbook and the HTML communiqué.

Nothing is published from an empty or implausible census: a blocking check on the counted
persons (the bulletin's input) stops the bulletin when no one is counted or when too many input
lines were quarantined. Publication is all-or-nothing: every file is written into a staging
folder that replaces the published one in a single rename (lib/publish.py). Every CSV and XLSX
cell is spreadsheet-safe (lib/safe_cells.py).

Every published file is stamped (run id, code version, data snapshot = a hash of the ingest
ledger, time): the XLSX in its notes sheet and document properties, the HTML in its footer; the
CSVs stay plain rectangular tables (UTF-8 with a byte-order mark, for Excel on Chinese Windows),
stamped through manifest.json, which lists every file with its size and sha256 (verify_manifest).
"""

import dataclasses
from datetime import timedelta
from pathlib import Path

import dagster as dg

from census_pipeline.defs.retries import retried_on_transient_io
from census_pipeline.lib.bulletin_html import pes_section, render
from census_pipeline.lib.metadata import markdown_table
from census_pipeline.lib.publish import make_stamp, staged_folder, write_manifest
from census_pipeline.lib.safe_cells import copy_csv
from census_pipeline.lib.workbook import pes_sheet, table_sheet, write_workbook
from census_pipeline.resources import OutputDir, Warehouse

BULLETIN_TABLES = ["b1_population", "b2_sex", "b3_age", "b4_education", "b5_ethnicity", "b6_migration",
                   "b7_urban_rural", "b8_hk_macao_taiwan_foreign"]
# published beside b1-b8: below county level (protected) and long-form sample estimates
SUPPLEMENTARY_TABLES = ["t1_township_population", "lf_marital_status", "lf_employment", "lf_industry"]
PUBLISHED_TABLES = BULLETIN_TABLES + SUPPLEMENTARY_TABLES
PERSONS = dg.AssetKey(["microdata", "persons"])
LEDGER = dg.AssetKey(["quality", "ingest_ledger"])  # lines received, ingested, quarantined per file
# A census office expects a few per cent of lines to break the contract (damaged batches,
# malformed lines); a fifth or more means a systemic fault (a wrong export, a changed format),
# and a bulletin from what is left would silently undercount.
MAX_QUARANTINED_PCT = 20.0
BULLETIN_WARN_AFTER = timedelta(hours=26)  # one nightly run missed
BULLETIN_FAIL_AFTER = timedelta(hours=50)  # two missed


@dataclasses.dataclass(frozen=True)
class Plausibility:
    persons_counted: int
    lines_received: int
    lines_quarantined: int

    @property
    def quarantined_pct(self) -> float:
        return 100.0 * self.lines_quarantined / self.lines_received if self.lines_received else 0.0

    def problems(self) -> list[str]:
        found = []
        if self.persons_counted == 0:
            found.append("the resident population is 0: no person counted "
                         f"({self.lines_received:,} input lines received; is the landing zone empty?)")
        if self.quarantined_pct > MAX_QUARANTINED_PCT:
            found.append(f"{self.quarantined_pct:.1f}% of input lines were quarantined "
                         f"({self.lines_quarantined:,} of {self.lines_received:,}; more than "
                         f"{MAX_QUARANTINED_PCT:.0f}% means a systemic fault): see quality.quarantine")
        return found


def plausibility(con) -> Plausibility:
    persons = con.execute("select count(*) from microdata.persons where is_counted").fetchone()[0]
    received, quarantined = con.execute(
        "select coalesce(sum(lines_received), 0), coalesce(sum(lines_quarantined), 0) from quality.ingest_ledger"
    ).fetchone()
    return Plausibility(int(persons), int(received), int(quarantined))


@dg.multi_asset_check(
    name="census_plausible_enough_to_publish",
    specs=[
        dg.AssetCheckSpec("resident_population_is_not_zero", asset=PERSONS, blocking=True, additional_deps=[LEDGER],
                          description="At least one person is counted in the resident population (blocking: "
                                      "an empty census publishes nothing)."),
        dg.AssetCheckSpec("quarantined_share_is_plausible", asset=PERSONS, blocking=True, additional_deps=[LEDGER],
                          description=f"At most {MAX_QUARANTINED_PCT:.0f}% of the landing zone's input lines are "
                                      "quarantined (blocking: a systemic fault publishes nothing)."),
    ],
)
def census_plausible_enough_to_publish(warehouse: Warehouse):
    """Systemic problems always block the bulletin, whatever the other gates say."""
    with warehouse.connect(read_only=True) as con:
        p = plausibility(con)
    yield dg.AssetCheckResult(
        asset_key=PERSONS, check_name="resident_population_is_not_zero", passed=p.persons_counted > 0,
        description=None if p.persons_counted else p.problems()[0],
        metadata={"persons_counted": p.persons_counted, "lines_received": p.lines_received})
    ok = p.quarantined_pct <= MAX_QUARANTINED_PCT
    yield dg.AssetCheckResult(
        asset_key=PERSONS, check_name="quarantined_share_is_plausible", passed=ok,
        description=None if ok else p.problems()[-1],
        metadata={"quarantined_pct": round(p.quarantined_pct, 3), "lines_quarantined": p.lines_quarantined,
                  "lines_received": p.lines_received, "threshold_pct": MAX_QUARANTINED_PCT})


@dg.asset(
    key=["bulletin", "published_files"],
    deps=[["bulletin", t] for t in PUBLISHED_TABLES] + [["bulletin", "chart_age_pyramid"], ["quality", "pes_estimates"]],
    group_name="publication", owners=["team:census-data"], kinds={"html", "csv", "xlsx"}, code_version="3",
    tags={"zone": "published"},
    # the nightly run (02:00) publishes each day: a bulletin older than a day and a bit means a night
    # was missed (warn), older than two days that two were (fail); shown on the asset's health in the UI
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=BULLETIN_FAIL_AFTER, warn_window=BULLETIN_WARN_AFTER),
)
@retried_on_transient_io
def published_files(context: dg.AssetExecutionContext, warehouse: Warehouse, output: OutputDir) -> dg.MaterializeResult:
    """The published bulletin (主要数据公报): b1-b8, the protected township table and the long-form
    estimates as CSV, one XLSX workbook, bulletin.html and manifest.json.

    Written to $CENSUS_OUTPUT_DIR/bulletin/, all files at once (staged, then swapped in); the HTML
    opens offline (inline SVG charts, no CDN); manifest.json stamps and fingerprints every file."""
    final = Path(output.path) / "bulletin"
    with warehouse.connect(read_only=True) as con:
        problems = plausibility(con).problems()  # also when the plausibility check was not selected
        if problems:
            raise dg.Failure(description="nothing published: " + "; ".join(problems))
        stamp = make_stamp(con, context.run_id)
        with staged_folder(final, context.run_id) as folder:
            tables = {}
            for name in PUBLISHED_TABLES:
                copy_csv(con, f"bulletin.{name}", folder / f"{name}.csv", order_by=["region_code"], bom=True)
                cur = con.execute(f"select * from bulletin.{name} order by region_code")
                tables[name] = ([d[0] for d in cur.description], cur.fetchall())
            pyramid = con.execute("select age_group_start, male, female from bulletin.chart_age_pyramid").fetchall()
            pes_rows = pes_estimates(con)
            coverage = coverage_section(con, pes_rows)
            sheets = [table_sheet(name, *tables[name]) for name in PUBLISHED_TABLES]
            write_workbook(folder / "bulletin.xlsx", [s for s in [*sheets, pes_sheet(pes_rows)] if s], stamp)
            (folder / "bulletin.html").write_text(
                render(tables, pyramid, [coverage] if coverage else None, stamp=stamp), encoding="utf-8")
            write_manifest(folder, stamp)
    cols, rows = tables["b1_population"]
    context.log.info(f"bulletin written to {final}")
    return dg.MaterializeResult(metadata={
        "folder": dg.MetadataValue.path(str(final)),
        "code_version": stamp.code_version, "data_snapshot": stamp.data_snapshot,
        "bulletin_html": dg.MetadataValue.path(str(final / "bulletin.html")),
        "resident_population": dg.MetadataValue.int(int(rows[0][cols.index("population")])),
        "b1_population": dg.MetadataValue.md(markdown_table(cols, rows)),
    })


def pes_estimates(con) -> list[dict]:
    cur = con.execute("select * from quality.pes_estimates order by level_order, region_or_stratum")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def coverage_section(con, rows: list[dict]) -> str | None:
    """The bulletin's PES section (net omission rate and interval), when a PES was run."""
    city = next((dict(r) for r in rows if r["level"] == "city"), None)
    if city is None or city["net_omission_pct"] is None:
        return None
    city["eas"], city["households"] = con.execute(
        "select count(distinct ea_code), count(*) from raw.pes_submissions").fetchall()[0]
    return pes_section(city, [r for r in rows if r["level"] in ("city", "county_group")],
                       [r for r in rows if r["level"] == "post_stratum"])
