import time
from datetime import UTC, datetime

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.inbox_sensors import (
    inbox_sensor_tick,
    latest_metadata,
    lone_run_working_since,
    runs_in_flight,
)
from sync_pipeline.defs.orders.assets import peoplevox_sales_orders, shopify_orders
from sync_pipeline.defs.orders.jobs import orders_ingest_job, orders_release_job, orders_status_job
from sync_pipeline.defs.orders.triggers import (
    INGEST_POLL_SECONDS,
    RELEASE_RUNS_IN_FLIGHT,
    due_for_next_release,
    earliest_due,
    release_reasons,
)
from sync_pipeline.defs.sensor_instance import sensor_instance
from sync_pipeline.lib.flows.orders.ingest import order_webhook


@dg.sensor(
    name="shopify_order_events",
    job=orders_ingest_job,
    minimum_interval_seconds=15,
    default_status=brand.sensor_status("orders"),
)
def shopify_order_events(context: dg.SensorEvaluationContext):
    """Reads new Shopify webhooks from the inbox and launches one ingest run for all of them;
    polls Shopify at least once a minute even when no webhook arrives (webhooks can be lost),
    and at once when the last ingest stopped at its batch limit with more to read."""
    return inbox_sensor_tick(
        context,
        "shopify",
        orders_ingest_job.name,
        INGEST_POLL_SECONDS,
        partition=True,
        backlog_key=shopify_orders.key,
        wanted=order_webhook,
    )


@dg.sensor(
    name="peoplevox_status_events",
    job=orders_status_job,
    minimum_interval_seconds=15,
    default_status=brand.sensor_status("orders"),
)
def peoplevox_status_events(context: dg.SensorEvaluationContext):
    """Launches a status run when Peoplevox status callbacks arrive (the 5-minute schedule polls anyway)."""
    return inbox_sensor_tick(
        context, "peoplevox", orders_status_job.name, None, partition=False, wanted=status_callback
    )


def status_callback(event: dict) -> bool:
    return event.get("event") == "SalesOrderStatusChanges"


@dg.sensor(
    name="orders_release_due",
    job=orders_release_job,
    minimum_interval_seconds=5,
    default_status=brand.sensor_status("orders"),
)
def orders_release_due(context: dg.SensorEvaluationContext):
    """Launches a release run when held orders come due, when Shopify changed an order that is
    already in the warehouse, or when an injection awaits confirmation. Reads the ledger's
    figures from the last runs' metadata, and when orders an ingest run in flight has recorded
    come due from its observations (one per chunk that brings the due time forward): sensors
    never open the ledger.

    While one release run is releasing, a second may start up beside it for orders recorded
    since the first started (it waits for the `peoplevox_orders` pool, then releases the moment
    the first is done): a run's start-up (13-26 s at a peak) no longer stands between two."""
    flying = runs_in_flight(context, orders_release_job.name, RELEASE_RUNS_IN_FLIGHT)
    if flying >= RELEASE_RUNS_IN_FLIGHT:
        return dg.SkipReason(f"{flying} release runs are already queued or running")
    if flying:
        return _release_beside(context)
    ingest_at, ingest = latest_metadata(context, shopify_orders.key)
    release_at, released = latest_metadata(context, peoplevox_sales_orders.key)
    observed_at, observed = _latest_observation(context, shopify_orders.key)
    newest = ingest if ingest_at >= release_at else released
    next_due = newest.get("next_release_due_at") or None
    if observed_at > max(ingest_at, release_at):  # recorded since both runs' figures were taken
        next_due = earliest_due(next_due, observed.get("next_release_due_at"))
    now = datetime.now(UTC)
    reasons = release_reasons(
        now,
        next_due,
        int(newest.get("pending_changes") or 0),
        int(released.get("outcome_unknown") or 0),
        time.time() - release_at if release_at else None,
    )
    if not reasons:
        return dg.SkipReason("nothing due")
    if not ingest_at and not observed_at:
        return dg.SkipReason("no ingest has run yet")
    return dg.RunRequest(
        run_key=f"release:{int(ingest_at)}:{int(now.timestamp())}",
        tags={"sync/trigger": "; ".join(reasons)[:200]},
    )


def _latest_observation(context: dg.SensorEvaluationContext, key: dg.AssetKey) -> tuple[float, dict]:
    """The latest observation of `key`: its time and metadata (0.0 and {} when there is none)."""
    records = sensor_instance(context).fetch_observations(key, limit=1).records
    if not records or records[0].asset_observation is None:
        return 0.0, {}
    metadata = records[0].asset_observation.metadata
    return records[0].timestamp, {k: getattr(v, "value", v) for k, v in metadata.items()}


def _release_beside(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """The second release run, started while the first releases, for orders it may not take.

    The run in flight keeps taking what comes due for its first 30 s (`RELEASE_RUN_SECONDS`), then
    finishes its last wave and pushes changes; orders recorded after it started may be left for
    the next run (those it does take leave the next one little to do: a start-up spent, no order
    sent twice, since release steps share one pool slot and write ahead)."""
    since = lone_run_working_since(context, orders_release_job.name)
    if since is None:
        return dg.SkipReason(
            "a release run is already in flight and queued, starting or waiting for its pool"
        )
    recorded = _due_recorded_since(context, shopify_orders.key, since)
    now = datetime.now(UTC)
    if not due_for_next_release(now, recorded):
        return dg.SkipReason("a release run is releasing; nothing recorded since it started is due yet")
    return dg.RunRequest(
        run_key=f"release-beside:{int(since)}:{int(now.timestamp())}",
        tags={"sync/trigger": f"orders recorded since the release run in flight started, due at {recorded}"},
    )


def _due_recorded_since(context: dg.SensorEvaluationContext, key: dg.AssetKey, since: float) -> str | None:
    """The earliest `next_release_due_at` of `key`'s observations after `since`: each ingest chunk
    that records orders awaiting release is observed with the earliest due time it recorded. Its
    materialisations are not read: their figure is the ledger's earliest order, which may be one
    the run in flight holds."""
    after = dg.AssetRecordsFilter(asset_key=key, after_timestamp=since)
    found = [
        _value(record.asset_observation.metadata.get("next_release_due_at"))
        for record in sensor_instance(context).fetch_observations(after, limit=100).records
        if record.asset_observation is not None
    ]
    return earliest_due(*found)


def _value(entry: object) -> str | None:
    value = getattr(entry, "value", entry)
    return str(value) if value else None
