"""Assembly only: the stages' definitions, the shared resources, one in-process executor.

Runs execute in process: each multiprocess step costs 1-2 s on two cores, and DuckDB allows
one writer process per file (docs/adr/0001).
"""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from census_pipeline.defs.automation import automation
from census_pipeline.defs.ingestion import assets as ingestion
from census_pipeline.defs.microdata import assets as microdata
from census_pipeline.defs.microdata.project import dbt_executable, dbt_project
from census_pipeline.defs.publication import assets as publication
from census_pipeline.defs.quality import gates, reports
from census_pipeline.resources import LandingZone, OutputDir, PseudonymKey, Warehouse
from census_pipeline.resources.expectations import GreatExpectations

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([ingestion, microdata, publication, reports]),
    asset_checks=[*dg.load_asset_checks_from_modules([ingestion, microdata, publication]), *gates.gate_checks],
    resources={
        "warehouse": Warehouse(path=dg.EnvVar("CENSUS_WAREHOUSE")),
        "landing": LandingZone(path=dg.EnvVar("CENSUS_LANDING_DIR")),
        "output": OutputDir(path=dg.EnvVar("CENSUS_OUTPUT_DIR")),
        "pseudonym_key": PseudonymKey(key=dg.EnvVar("CENSUS_PSEUDONYM_KEY")),
        "great_expectations": GreatExpectations(warehouse_path=dg.EnvVar("CENSUS_WAREHOUSE"),
                                                output_dir=dg.EnvVar("CENSUS_OUTPUT_DIR")),
        "dbt": DbtCliResource(project_dir=dbt_project, profiles_dir=str(dbt_project.profiles_dir),
                              dbt_executable=dbt_executable()),
    },
    jobs=[automation.census_all],
    schedules=[automation.nightly_census_run],
    sensors=[automation.landing_zone_sensor, publication.bulletin_marked_stale_after_a_failed_run],
    executor=dg.in_process_executor,
)
