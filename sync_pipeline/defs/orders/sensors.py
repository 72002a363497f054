import time
from datetime import UTC, datetime

import dagster as dg

from sync_pipeline.defs.orders.jobs import orders_ingest_job, orders_release_job, orders_status_job
from sync_pipeline.defs.orders.triggers import INGEST_POLL_SECONDS, InboxCursor, release_reasons
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.settings import SyncSettings

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _in_flight(context: dg.SensorEvaluationContext, job_name: str) -> bool:
    runs = context.instance.get_runs(filters=dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT), limit=1)
    return bool(runs)


def _inbox_sensor_tick(
    context: dg.SensorEvaluationContext,
    source: str,
    job_name: str,
    poll_seconds: float | None,
    partition: bool,
    backlog_key: list[str] | None = None,
) -> dg.SensorResult | dg.SkipReason:
    """One run for everything that arrived since the cursor; never one run per event."""
    cursor = InboxCursor.parse(context.cursor)
    if _in_flight(context, job_name):
        # The running batch will read the ledger cursor anyway; new events wait one tick.
        return dg.SkipReason(f"{job_name} already queued or running")
    new = Inbox(SyncSettings().inbox_dir).since(source, after=cursor.last_item, limit=100_000)
    now = time.time()
    poll_due = poll_seconds is not None and now - cursor.requested_at >= poll_seconds
    backlog = backlog_key is not None and _latest_metadata(context, backlog_key)[1].get("caught_up") is False
    if not new and not poll_due and not backlog:
        return dg.SkipReason(f"no new {source} events")
    last = new[-1].name if new else cursor.last_item
    trigger = f"{len(new)} {source} event(s)" if new else ("backlog" if backlog else "poll interval")
    request = dg.RunRequest(
        run_key=f"{job_name}:{last or 'start'}:{int(now)}",
        partition_key=datetime.now(UTC).strftime("%Y-%m-%d") if partition else None,
        tags={"sync/trigger": trigger},
    )
    return dg.SensorResult(run_requests=[request], cursor=InboxCursor(last, now).dump())


@dg.sensor(
    name="shopify_order_events",
    job=orders_ingest_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def shopify_order_events(context: dg.SensorEvaluationContext):
    """Reads new Shopify webhooks from the inbox and launches one ingest run for all of them;
    polls Shopify at least once a minute even when no webhook arrives (webhooks can be lost),
    and at once when the last ingest stopped at its batch limit with more to read."""
    return _inbox_sensor_tick(
        context,
        "shopify",
        orders_ingest_job.name,
        INGEST_POLL_SECONDS,
        partition=True,
        backlog_key=["shopify", "orders"],
    )


@dg.sensor(
    name="peoplevox_status_events",
    job=orders_status_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def peoplevox_status_events(context: dg.SensorEvaluationContext):
    """Launches a status run when Peoplevox callbacks arrive (the 5-minute schedule polls anyway)."""
    return _inbox_sensor_tick(context, "peoplevox", orders_status_job.name, None, partition=False)


def _latest_metadata(context: dg.SensorEvaluationContext, key: list[str]) -> tuple[float, dict]:
    event = context.instance.get_latest_materialization_event(dg.AssetKey(key))
    if event is None or event.asset_materialization is None:
        return 0.0, {}
    values = {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}
    return event.timestamp, values


@dg.sensor(
    name="orders_release_due",
    job=orders_release_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def orders_release_due(context: dg.SensorEvaluationContext):
    """Launches a release run when held orders come due, when Shopify changed an order that is
    already in the warehouse, or when an injection awaits confirmation. Reads the ledger's
    figures from the last runs' metadata: sensors never open the ledger."""
    if _in_flight(context, orders_release_job.name):
        return dg.SkipReason("a release run is already queued or running")
    ingest_at, ingest = _latest_metadata(context, ["shopify", "orders"])
    release_at, released = _latest_metadata(context, ["peoplevox", "sales_orders"])
    newest = ingest if ingest_at >= release_at else released
    now = datetime.now(UTC)
    reasons = release_reasons(
        now,
        newest.get("next_release_due_at") or None,
        int(newest.get("pending_changes") or 0),
        int(released.get("outcome_unknown") or 0),
        time.time() - release_at if release_at else None,
    )
    if not reasons:
        return dg.SkipReason("nothing due")
    if not ingest_at:
        return dg.SkipReason("no ingest has run yet")
    return dg.RunRequest(
        run_key=f"release:{int(ingest_at)}:{int(now.timestamp())}",
        tags={"sync/trigger": "; ".join(reasons)[:200]},
    )
