"""The job of the whole census. `census run`, the nightly schedule, the landing-zone sensor
and a re-execution from the UI all run it (or a selection of it), so every run is named and
counted in its history. (The other job, census_ingest_by_county, ingests upload batches county
by county for a province's office: defs/ingestion/by_county.py.)"""

import dagster as dg

census_all = dg.define_asset_job(
    "census_all", selection=dg.AssetSelection.all(),
    description="Every asset of the census, from the landing zone to the published bulletin, with its checks.",
    tags={"census/trigger": "job"},
)
