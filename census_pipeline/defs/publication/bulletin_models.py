"""Publication: the bulletin tables (公报) as dbt models, in the run's second `dbt build`.

They read the cleaned microdata only once its quality gates have passed (defs/quality); the
published files (CSV, workbook, HTML) are made from them in defs/publication/assets.py.
"""


import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from census_pipeline.defs.dbt import BULLETIN_BUILD, TRANSLATOR, build, dbt_project
from census_pipeline.resources import PseudonymKey, Warehouse


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=TRANSLATOR,
            select=BULLETIN_BUILD, name="census_bulletin_models")
def census_bulletin_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse,
                           pseudonym_key: PseudonymKey):
    """The bulletin tables, in a second `dbt build`: they run only once the microdata gates pass."""
    yield from build(context, dbt, warehouse, pseudonym_key.key)  # the key: to keep it out of metadata
