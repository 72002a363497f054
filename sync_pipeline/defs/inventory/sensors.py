import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.inbox_sensors import inbox_sensor_tick
from sync_pipeline.defs.inventory.assets import shopify_inventory_levels
from sync_pipeline.defs.inventory.jobs import stock_changes_job
from sync_pipeline.lib.peoplevox import callbacks


def availability_callback(event: dict) -> bool:
    return event.get("event") == callbacks.AVAILABILITY_CHANGES.event


@dg.sensor(
    name="peoplevox_availability_events",
    job=stock_changes_job,
    minimum_interval_seconds=5,
    default_status=brand.sensor_status("stock"),
)
def peoplevox_availability_events(context: dg.SensorEvaluationContext):
    """Launches one stock run for every burst of AvailabilityChanges callbacks (goods in, returns,
    allocations, counts), skips while one is running, and runs again at once when the last run
    left items queued. No poll: the hourly reconcile (`stock_reconcile_hourly`) is the safety net."""
    return inbox_sensor_tick(
        context,
        "peoplevox",
        stock_changes_job.name,
        None,
        partition=False,
        backlog_key=shopify_inventory_levels.key,
        wanted=availability_callback,
    )
