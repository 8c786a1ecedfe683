"""Assembly only: every stage's definitions from the defs folder, the shared resources, one
in-process executor.

`census_pipeline/defs/` holds one folder per census stage in the order the data flows
(ingestion, microdata, linkage, coverage_survey, quality, publication) and `automation` (the job,
schedule and sensors); every asset, check, job, schedule and sensor defined at module level there
is loaded (`dg.load_from_defs_folder`, the `[tool.dg]` table of pyproject.toml). Runs execute in
process: each multiprocess step costs 1-2 s on two cores, and DuckDB allows one writer process per
file (docs/adr/0001).
"""

from __future__ import annotations

import dagster as dg

from census_pipeline.defs.dbt import CensusDbtCliResource, dbt_executable, dbt_project
from census_pipeline.lib.codes import PROJECT_ROOT
from census_pipeline.resources import LandingZone, OutputDir, PseudonymKey, Warehouse
from census_pipeline.resources.expectations import GreatExpectations


def _shared() -> dg.Definitions:
    """The resources and the executor every stage uses (a function: Dagster's loader refuses a
    module with two Definitions objects at module scope)."""
    return dg.Definitions(
        resources={
            "warehouse": Warehouse(path=dg.EnvVar("CENSUS_WAREHOUSE")),
            "landing": LandingZone(path=dg.EnvVar("CENSUS_LANDING_DIR")),
            "output": OutputDir(path=dg.EnvVar("CENSUS_OUTPUT_DIR")),
            "pseudonym_key": PseudonymKey(key=dg.EnvVar("CENSUS_PSEUDONYM_KEY")),
            "great_expectations": GreatExpectations(warehouse_path=dg.EnvVar("CENSUS_WAREHOUSE"),
                                                    output_dir=dg.EnvVar("CENSUS_OUTPUT_DIR")),
            "dbt": CensusDbtCliResource(project_dir=dbt_project, profiles_dir=str(dbt_project.profiles_dir),
                                        dbt_executable=dbt_executable()),
        },
        executor=dg.in_process_executor,
    )


defs = dg.Definitions.merge(dg.load_from_defs_folder(path_within_project=PROJECT_ROOT), _shared())
