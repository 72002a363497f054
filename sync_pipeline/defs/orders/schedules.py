import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.orders.jobs import orders_status_job

peoplevox_status_poll = dg.ScheduleDefinition(
    name="peoplevox_status_poll",
    job=orders_status_job,
    cron_schedule="*/5 * * * *",
    default_status=brand.schedule_status("orders"),
    description="Polls Peoplevox for sales-order statuses every 5 minutes, catching lost callbacks.",
)
