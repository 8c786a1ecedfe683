"""Automation: a job for the whole census, the nightly run, and the landing-zone sensor."""

import os
from pathlib import Path

import dagster as dg

from census_pipeline.defs.automation.dead_runs import fail_dead_runs
from census_pipeline.lib.landing_watch import ingested_files, new_since

census_all = dg.define_asset_job(
    "census_all", selection=dg.AssetSelection.all(),
    description="Every asset of the census, from the landing zone to the published bulletin, with its checks.",
    tags={"census/trigger": "job"},
)

nightly_census_run = dg.ScheduleDefinition(
    name="nightly_census_run", job=census_all, cron_schedule="0 2 * * *", execution_timezone="Asia/Shanghai",
    description="02:00 China Standard Time: refresh every output with the batches that arrived during the day.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)


@dg.sensor(job=census_all, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Requests one run for each set of new complete files in the landing zone (uploads, PES, "
                       "registers, frame), exactly once; in-flight .part/.tmp/dot files are ignored. Its first "
                       "tick leaves out the files the warehouse has already ingested.")
def landing_zone_sensor(context: dg.SensorEvaluationContext):
    # a run whose process was killed would hold the one-run queue for ever (docs/adr/0001)
    for dead in fail_dead_runs(context.instance):
        context.log.warning(f"run {dead.run_id} lost its process (pid {dead.pid}): marked failed")
    root = Path(os.environ.get("CENSUS_LANDING_DIR", ""))
    if not root.is_dir():
        return dg.SkipReason(f"landing zone {root} does not exist (CENSUS_LANDING_DIR)")
    first_tick = context.cursor is None
    if first_tick:  # files already in the warehouse's ledger are not new to it
        warehouse = os.environ.get("CENSUS_WAREHOUSE")
        ingested = ingested_files(Path(warehouse)) if warehouse else set()
        if ingested is None:
            return dg.SkipReason("a run is writing the warehouse: the first look at the landing zone waits "
                                 "for the next tick")
    files, cursor = new_since(root, context.cursor)
    if first_tick:
        already = len(files)
        files = [f for f in files if f not in ingested]
        if not files and cursor is not None:
            context.update_cursor(cursor)
            return dg.SkipReason(f"all {already} complete files in the landing zone are already ingested")
    if not files:
        return dg.SkipReason("no new complete files")
    context.update_cursor(cursor)
    # one run for the whole burst; the run key is the last file's position, stable across ticks
    return dg.RunRequest(run_key=f"landing:{cursor}", tags={"census/trigger": "landing sensor",
                                                            "census/new_files": str(len(files))})
