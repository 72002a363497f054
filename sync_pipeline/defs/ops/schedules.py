import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.ops.assets import ops_exceptions

ops_exceptions_job = dg.define_asset_job(
    "ops_exceptions_job",
    selection=[ops_exceptions],
    tags=brand.SHARED_RUN_SLOTS,
    description="Re-check and rank every open exception; export the list.",
)

ops_exceptions_every_10_minutes = dg.ScheduleDefinition(
    name="ops_exceptions_every_10_minutes",
    job=ops_exceptions_job,
    cron_schedule="*/10 * * * *",
    default_status=brand.schedule_status("operations"),
    description="Re-checks, ranks and exports the open exceptions every 10 minutes (the alert digest reads the result).",
)
