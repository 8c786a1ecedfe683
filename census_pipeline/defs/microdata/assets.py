"""Microdata: the dbt project (staging -> cleaned, de-identified microdata) as Dagster assets.

All dbt models run in one `dbt build` per run; dbt tests appear as asset checks.
"""


from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from census_pipeline.defs.microdata.project import dbt_project

GROUP_BY_SCHEMA = {"staging": "microdata", "codes": "microdata", "microdata": "microdata", "quality": "quality",
                   "linkage": "linkage", "bulletin": "publication"}


class CensusTranslator(DagsterDbtTranslator):
    """Asset keys follow the warehouse: [schema, table]; groups are census stages."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props["schema"]
        return dg.AssetKey([schema, dbt_resource_props.get("alias") or dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props.get("schema")
        return GROUP_BY_SCHEMA.get(schema, "microdata")

    def get_owners(self, dbt_resource_props: Mapping[str, Any]):
        return ["team:census-data"]

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        schema = dbt_resource_props.get("config", {}).get("schema")
        zone = "restricted" if schema in ("staging", "raw") else "analysis"
        return {**super().get_tags(dbt_resource_props), "zone": zone}


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=CensusTranslator(settings=DagsterDbtTranslatorSettings(enable_code_references=False)),
)
def census_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Every dbt model, seed and test of the census, in one `dbt build`."""
    yield from dbt.cli(["build"], context=context).stream()
