from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.inbox_sensors import (
    inbox_sensor_tick,
    last_run_started,
    materialized_since,
    runs_in_flight,
)
from sync_pipeline.defs.inventory.assets import shopify_inventory_levels
from sync_pipeline.defs.inventory.jobs import stock_changes_job, stock_reconcile_job
from sync_pipeline.defs.peak_mode import in_peak_mode
from sync_pipeline.defs.resources import BusinessRulesResource
from sync_pipeline.defs.sensor_instance import sensor_instance
from sync_pipeline.lib.peoplevox import callbacks

# One run pushing while the next starts up: a run's start-up (a new process loading the code) is a
# large share of a change's way to Shopify, and is hidden behind the run ahead. Their steps still go
# one at a time in each pool, and when they do overlap (a read while the other pushes, or two pushes
# if `shopify_stock` is raised to 2) the newer figure wins (`stock/test_two_pushes.py`).
STOCK_RUNS_IN_FLIGHT = 2


def availability_callback(event: dict) -> bool:
    return event.get("event") == callbacks.AVAILABILITY_CHANGES.event


def allocations_heard(context: dg.SensorEvaluationContext) -> str | None:
    """Runs of other flows queued items after the last stock run started: status runs (orders
    Peoplevox allocated; the allocation's own callback came earlier) and ingest runs that saw peak
    mode switch (`lib/flows/stock/peak.py`). Their targets moved, and no callback will name them."""
    since = last_run_started(context, stock_changes_job.name)
    hinted = sum(
        materialized_since(context, brand.key("peoplevox", asset), since, "stock_items_hinted")
        for asset in ("sales_order_statuses", "sales_orders")  # status runs; release recording statuses
    )
    peak = materialized_since(context, brand.key("shopify", "orders"), since, "peak_switch_items_queued")
    reasons = ([f"{hinted} item(s) of allocated orders"] if hinted else []) + (
        [f"{peak} item(s) whose buffer peak mode moved"] if peak else []
    )
    return "; ".join(reasons) or None


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


@dg.sensor(
    name="peak_mode_reconcile",
    job=stock_reconcile_job,
    minimum_interval_seconds=15,
    default_status=brand.sensor_status("stock"),
)
def peak_mode_reconcile(context: dg.SensorEvaluationContext):
    """Launches one full reconcile when peak mode switched on or off and the listings it moves are
    more than an incremental run should queue (`peak_switch_reconcile` in an ingest run's metadata:
    the switch's id). Once per switch: the cursor keeps the newest switch launched and where it read
    to. A switch that moves fewer listings queues their items instead (`peoplevox_availability_events`)."""
    cursor = _SwitchCursor.parse(context.cursor)
    orders = brand.key("shopify", "orders")
    after = dg.AssetRecordsFilter(asset_key=orders, after_storage_id=cursor.storage_id)
    # The first tick looks at the newest only.
    ascending = cursor.storage_id is not None
    records = sensor_instance(context).fetch_materializations(after, limit=100, ascending=ascending).records
    if not records:
        return dg.SkipReason("no ingest run since the last look")
    switches = [int(_value(r, "peak_switch_reconcile") or 0) for r in records]
    newest = max([cursor.switch, *switches])
    read_to = max(r.storage_id for r in records)
    moved_on = _SwitchCursor(read_to, newest).dump()
    if newest <= cursor.switch:
        return dg.SensorResult(skip_reason="no peak-mode switch wanting a reconcile", cursor=moved_on)
    request = dg.RunRequest(
        run_key=f"peak_switch:{newest}",
        partition_key=datetime.now(UTC).strftime("%Y-%m-%d-%H:00"),  # this hour's snapshot
        tags={"sync/trigger": f"peak mode switch {newest}: every listing's buffer moved"},
    )
    return dg.SensorResult(run_requests=[request], cursor=moved_on)


@dg.sensor(
    name="stock_reconcile_in_peak",
    job=stock_reconcile_job,
    minimum_interval_seconds=30,
    default_status=brand.sensor_status("stock"),
)
def stock_reconcile_in_peak(context: dg.SensorEvaluationContext, business_rules: BusinessRulesResource):
    """While peak mode is on, launches the full reconcile every `peak_reconcile_minutes` (stock.yaml),
    not only hourly. A callback is a hint that can be lost: a goods-in whose AvailabilityChanges never
    came would stay unsold in Shopify until the next full read (a rehearsal's dropped callbacks left
    three goods-in SKUs short for the whole drain). Peak mode as the latest ingest run judged it (its
    `peak_mode` metadata); the clock from the latest reconcile run of any kind (the hourly one, a
    switch's, this sensor's), started or only created. A switch that wants a reconcile since that
    run gets its own (`peak_mode_reconcile`), not a second one from here."""
    minutes = business_rules.load().stock.peak_reconcile_minutes
    if minutes <= 0:
        return dg.SkipReason("peak_reconcile_minutes is 0: the hourly reconcile only")
    orders = brand.key("shopify", "orders")
    if not in_peak_mode(context):
        return dg.SkipReason("not in peak mode (or no ingest run has judged it for 15 minutes)")
    if runs_in_flight(context, stock_reconcile_job.name):
        return dg.SkipReason("a reconcile is in flight")
    last = last_run_started(context, stock_reconcile_job.name)
    if materialized_since(context, orders, last, "peak_switch_reconcile"):
        # Whichever sensor came first, both launched one: two full reads of Peoplevox at once.
        return dg.SkipReason("a peak-mode switch wants a reconcile: peak_mode_reconcile launches it")
    now = time.time()
    if last is not None and now - last < minutes * 60:
        return dg.SkipReason(
            f"the last reconcile began {now - last:.0f} s ago; every {minutes:g} min in peak mode"
        )
    return dg.RunRequest(
        run_key=f"peak_reconcile:{int(now)}",
        partition_key=datetime.now(UTC).strftime("%Y-%m-%d-%H:00"),  # this hour's snapshot
        tags={"sync/trigger": f"peak mode: the full reconcile every {minutes:g} min"},
    )


def _value(record: dg.EventLogRecord, field: str) -> object:
    materialization = record.asset_materialization
    value = materialization.metadata.get(field) if materialization else None
    return getattr(value, "value", value)


@dataclass(frozen=True)
class _SwitchCursor:
    storage_id: int | None  # the last ingest materialisation read
    switch: int  # the newest switch a reconcile was launched for

    @classmethod
    def parse(cls, raw: str | None) -> _SwitchCursor:
        data = json.loads(raw) if raw else {}
        return cls(data.get("storage_id"), int(data.get("switch", 0)))

    def dump(self) -> str:
        return json.dumps({"storage_id": self.storage_id, "switch": self.switch})
