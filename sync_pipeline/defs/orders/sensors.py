import time
from datetime import UTC, datetime

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.inbox_sensors import in_flight, inbox_sensor_tick, latest_metadata
from sync_pipeline.defs.orders.assets import peoplevox_sales_orders, shopify_orders
from sync_pipeline.defs.orders.jobs import orders_ingest_job, orders_release_job, orders_status_job
from sync_pipeline.defs.orders.triggers import INGEST_POLL_SECONDS, earliest_due, release_reasons
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
    minimum_interval_seconds=15,
    default_status=brand.sensor_status("orders"),
)
def orders_release_due(context: dg.SensorEvaluationContext):
    """Launches a release run when held orders come due, when Shopify changed an order that is
    already in the warehouse, or when an injection awaits confirmation. Reads the ledger's
    figures from the last runs' metadata, and when orders an ingest run in flight has recorded
    come due from its observations (one per chunk that brings the due time forward): sensors
    never open the ledger."""
    if in_flight(context, orders_release_job.name):
        return dg.SkipReason("a release run is already queued or running")
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
    records = context.instance.fetch_observations(key, limit=1).records
    if not records or records[0].asset_observation is None:
        return 0.0, {}
    metadata = records[0].asset_observation.metadata
    return records[0].timestamp, {k: getattr(v, "value", v) for k, v in metadata.items()}
