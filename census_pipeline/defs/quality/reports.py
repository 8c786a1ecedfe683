"""Quality reports for the field: follow-up list, coverage, enumerator scorecard, progress.

Household and enumerator ids come from PADs and phones: every text cell is made
spreadsheet-safe (lib/safe_cells.py), and the four files replace the old ones together once all
are written (the folder also holds the Great Expectations Data Docs, so it is not swapped whole).
The CSVs start with a UTF-8 byte-order mark so that Excel on Chinese Windows reads them right.
"""

import os
import shutil

import dagster as dg

from census_pipeline.lib.charts import bar_lines
from census_pipeline.lib.metadata import markdown_table
from census_pipeline.lib.safe_cells import copy_csv
from census_pipeline.resources import OutputDir, Warehouse

REPORTS = ["follow_up", "coverage", "enumerator_scorecard", "progress"]


@dg.asset(
    key=["quality", "reports"], deps=[["quality", r] for r in REPORTS], group_name="quality",
    owners=["team:census-data"], kinds={"csv"}, tags={"zone": "analysis"}, code_version="3",
)
def quality_reports(context: dg.AssetExecutionContext, warehouse: Warehouse, output: OutputDir) -> dg.MaterializeResult:
    """The field teams' reports as CSV in $CENSUS_OUTPUT_DIR/quality/: follow-up list (补登/复查),
    coverage (不重不漏), enumerator scorecard (可追溯), progress by township and day (登记进度)."""
    folder = output.folder("quality")
    staging = folder / f".reports-staging-{context.run_id}"
    staging.mkdir(exist_ok=True)
    with warehouse.connect(read_only=True) as con:
        try:
            for name in REPORTS:
                copy_csv(con, f"quality.{name}", staging / f"{name}.csv", bom=True)
            for name in REPORTS:
                os.replace(staging / f"{name}.csv", folder / f"{name}.csv")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        progress = con.execute("""
            select strftime(census_day, '%m-%d'), round(100.0 * sum(enumerated_final) / nullif(sum(listed_households), 0), 1)
            from quality.progress group by census_day order by census_day""").fetchall()
        worst = con.execute("""
            select enumerator_id, edit_failure_pct, imputation_pct, households_completed, superseded_submissions,
                   late_submissions
            from quality.enumerator_scorecard where households_completed >= 5
            order by edit_failure_pct desc nulls last, enumerator_id limit 10""").fetchall()
        cases = con.execute("select case_type, count(*) from quality.follow_up group by all order by 2 desc").fetchall()
        enumerators = con.execute("select count(distinct enumerator_id) from quality.enumerator_scorecard").fetchone()[0]
    return dg.MaterializeResult(metadata={
        "folder": dg.MetadataValue.path(str(folder)),
        "progress_chart": dg.MetadataValue.md(
            "Households with a final submission, % of listed (city, by day)\n\n"
            + bar_lines([(d, float(p or 0)) for d, p in progress[::3]], unit="%")),
        "final_progress_pct": dg.MetadataValue.float(float(progress[-1][1] or 0) if progress else 0.0),
        "follow_up_cases": dg.MetadataValue.md(markdown_table(["case type", "cases"], cases)),
        "enumerators": dg.MetadataValue.int(int(enumerators)),
        "highest_edit_failure_rates": dg.MetadataValue.md(
            bar_lines([(e, float(p or 0)) for e, p, *_ in worst], unit="%") + "\n\n"
            + markdown_table(["enumerator", "edit-failure %", "imputation %", "households", "superseded", "late"],
                             worst)),
    })
