import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.inbox_sensors import inbox_sensor_tick, last_run_started, materialized_since
from sync_pipeline.defs.inventory.assets import shopify_inventory_levels
from sync_pipeline.defs.inventory.jobs import stock_changes_job
from sync_pipeline.lib.peoplevox import callbacks

# One run pushing while the next starts up: a run's start-up (a new process loading the code) is a
# large share of a change's way to Shopify, and is hidden behind the run ahead. Their steps still go
# one at a time in each pool, and when they do overlap (a read while the other pushes, or two pushes
# if `shopify_stock` is raised to 2) the newer figure wins (`stock/test_two_pushes.py`).
STOCK_RUNS_IN_FLIGHT = 2


def availability_callback(event: dict) -> bool:
    return event.get("event") == callbacks.AVAILABILITY_CHANGES.event


def allocations_heard(context: dg.SensorEvaluationContext) -> str | None:
    """Status runs queued items (orders Peoplevox allocated) after the last stock run started: their
    targets moved, and the allocation's own callback came earlier, so no callback will name them."""
    since = last_run_started(context, stock_changes_job.name)
    hinted = sum(
        materialized_since(context, brand.key("peoplevox", asset), since, "stock_items_hinted")
        for asset in ("sales_order_statuses", "sales_orders")  # status runs; release recording statuses
    )
    return f"{hinted} item(s) of allocated orders" if hinted else None


@dg.sensor(
    name="peoplevox_availability_events",
    job=stock_changes_job,
    minimum_interval_seconds=5,
    default_status=brand.sensor_status("stock"),
)
def peoplevox_availability_events(context: dg.SensorEvaluationContext):
    """Launches one stock run for every burst of AvailabilityChanges callbacks (goods in, returns,
    allocations, counts; while one run works the next may start up, never more than two), and runs
    again at once when the last run
    left items queued, or when a status run queued the items of orders Peoplevox has allocated. No poll:
    the hourly reconcile (`stock_reconcile_hourly`) is the safety net."""
    return inbox_sensor_tick(
        context,
        "peoplevox",
        stock_changes_job.name,
        None,
        partition=False,
        backlog_key=shopify_inventory_levels.key,
        wanted=availability_callback,
        max_in_flight=STOCK_RUNS_IN_FLIGHT,
        wake=allocations_heard,
    )
