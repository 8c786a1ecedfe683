"""Microdata: the dbt models from staging to cleaned, de-identified microdata, as Dagster assets.

One `dbt build` makes everything up to the microdata quality gates: staging, the edits and
imputation, the microdata marts, and with them the linkage with the registers
(defs/linkage) and the coverage survey (defs/coverage_survey), whose models sit in their own
dbt folders and Dagster groups. One build, not one per stage, because each dbt invocation has a
fixed cost (defs/dbt.py); the bulletin is the second build, once the gates pass.
"""


import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from census_pipeline.defs.coverage_survey.metadata import COVERAGE_SURVEY_METADATA
from census_pipeline.defs.dbt import BULLETIN_BUILD, TRANSLATOR, build, dbt_project
from census_pipeline.defs.linkage.metadata import LINKAGE_METADATA
from census_pipeline.lib.metadata import markdown_table
from census_pipeline.resources import PseudonymKey, Warehouse

IMPUTED_ITEMS = {"sex": "sex_edit_rule", "birth month": "birth_edit_rule", "relationship": "relationship_edit_rule",
                 "ethnicity": "ethnicity_edit_rule", "education": "education_edit_rule", "literacy": "literate_edit_rule"}


def persons_quality_metadata(con) -> dict:
    """Edit and imputation rates per item among counted persons, for statisticians."""
    counted = con.execute("select count(*) from microdata.persons where is_counted").fetchone()[0] or 1
    rows, meta = [], {}
    for item, col in IMPUTED_ITEMS.items():
        by_rule = con.execute(f"select {col}, count(*) from microdata.persons where is_counted and {col} is not null "
                              f"group by all order by all").fetchall()
        total = sum(n for _, n in by_rule)
        rows.append((item, total, round(100 * total / counted, 3), ", ".join(f"{r} {n:,}" for r, n in by_rule)))
        meta[f"edit_rate_pct/{item.replace(' ', '_')}"] = dg.MetadataValue.float(round(100 * total / counted, 4))
    by_county = con.execute("""
        select county_code, count(*) filter (where is_counted), count(*) filter (where is_duplicate_removed)
        from microdata.persons group by all order by all""").fetchall()
    return {
        **meta,
        "persons_counted": dg.MetadataValue.int(int(counted)),
        "edits_and_imputation": dg.MetadataValue.md(markdown_table(
            ["item", "changed", "% of counted", "by rule"], rows)),
        "counted_by_county": dg.MetadataValue.md(markdown_table(
            ["county", "persons counted", "duplicates removed"], by_county)),
    }


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=TRANSLATOR,
            exclude=BULLETIN_BUILD, name="census_microdata_models")
def census_microdata_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse,
                            pseudonym_key: PseudonymKey):
    """The dbt models up to cleaned microdata, follow-up and coverage, in one `dbt build`."""
    pseudonym_key.announce(context.log)
    yield from build(context, dbt, warehouse, pseudonym_key.key, {
        ("microdata", "persons"): persons_quality_metadata, **LINKAGE_METADATA, **COVERAGE_SURVEY_METADATA})
