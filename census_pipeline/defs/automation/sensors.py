"""Sensors: a run for new files in the landing zone, and what follows a failed run (the
bulletin marked stale, one alert)."""

import hashlib
import os
from pathlib import Path

import dagster as dg

from census_pipeline.defs.automation import jobs
from census_pipeline.defs.automation.dead_runs import fail_dead_runs
from census_pipeline.lib.alerts import alert, text_of
from census_pipeline.lib.landing_watch import ingested_files, new_since
from census_pipeline.lib.publish import mark_stale
from census_pipeline.resources import OutputDir


@dg.sensor(job=jobs.census_all, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
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
    # one run for the whole burst; the run key is the cursor after it (hashed: it lists the paths
    # of its newest change time), stable across ticks
    key = hashlib.sha256(cursor.encode()).hexdigest()[:20]
    return dg.RunRequest(run_key=f"landing:{key}", tags={"census/trigger": "landing sensor",
                                                            "census/new_files": str(len(files))})


@dg.run_failure_sensor(
    name="bulletin_marked_stale_after_a_failed_run", default_status=dg.DefaultSensorStatus.RUNNING,
    description="When a run started from the UI, a schedule or a sensor fails: marks the bulletin published "
                "earlier as stale unless the run published its own first (STALE.txt: the run, the time, the "
                "cause), and raises one alert (alerts.log beside the outputs, and CENSUS_ALERT_COMMAND when set). "
                "`census run` does the same itself; a run is alerted once.")
def bulletin_marked_stale_after_a_failed_run(context: dg.RunFailureSensorContext, output: OutputDir):
    run_id = context.dagster_run.run_id
    published = any(
        r.dagster_event is not None and r.dagster_event.asset_key == dg.AssetKey(["bulletin", "published_files"])
        for r in context.instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION))
    cause = (context.failure_event.message or "the run failed").strip().splitlines()[0]
    note = None if published else mark_stale(Path(output.path) / "bulletin", run_id, cause)
    trigger = context.dagster_run.tags.get("census/trigger") or context.dagster_run.tags.get("dagster/schedule_name") \
        or "the Dagster UI"
    raised = alert(output.path, run_id, cause, trigger, stale=note is not None)
    if raised is not None:
        context.log.error(text_of(raised))
    return dg.SkipReason(f"run {run_id}: " + ("alert raised" if raised else "already alerted")
                         + ("; the bulletin is marked stale" if note else ""))
