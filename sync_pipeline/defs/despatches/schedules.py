import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.despatches.jobs import despatches_checks_job

# despatches_reach_shopify fails at `unfulfilled_minutes` (30 by default): checking every 10
# minutes finds a stuck package well within that.
despatches_checks = dg.ScheduleDefinition(
    name="despatches_checks",
    job=despatches_checks_job,
    cron_schedule="*/10 * * * *",
    default_status=brand.schedule_status("despatches"),
    description="Runs the despatches checks every 10 minutes (they read the whole ledger).",
)
