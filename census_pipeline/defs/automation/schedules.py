"""The nightly run (stopped until an office turns it on)."""

import dagster as dg

from census_pipeline.defs.automation import jobs

nightly_census_run = dg.ScheduleDefinition(
    name="nightly_census_run", job=jobs.census_all, cron_schedule="0 2 * * *", execution_timezone="Asia/Shanghai",
    description="02:00 China Standard Time: refresh every output with the batches that arrived during the day.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
