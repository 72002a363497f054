"""Sensor plumbing every flow shares: one run per burst of inbox events, skip while one is in
flight, poll when events may have been lost, run again at once while a backlog remains.

Sensors never open the ledger: they read the inbox directory and Dagster's own records.
"""

import json
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from sync_pipeline.defs.orders.triggers import InboxCursor
from sync_pipeline.defs.sensor_instance import sensor_instance
from sync_pipeline.lib.inbox import Inbox, InboxItem
from sync_pipeline.settings import SyncSettings


def _wants(wanted: Callable[[dict[str, Any]], bool], item: InboxItem) -> bool:
    try:
        return wanted(item.load())
    except (OSError, json.JSONDecodeError):
        return False  # pruned meanwhile, or unreadable: the poll covers it


IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _own_location(context: dg.SensorEvaluationContext) -> dict[str, str] | None:
    origin = context.code_location_origin
    return {"dagster/code_location": origin.location_name} if origin else None


def last_run_started(context: dg.SensorEvaluationContext, job_name: str) -> float | None:
    """When the latest run of `job_name` (this location's) started, or was created if it never did."""
    records = sensor_instance(context).get_run_records(
        filters=dg.RunsFilter(job_name=job_name, tags=_own_location(context)), limit=1
    )
    if not records:
        return None
    return records[0].start_time or records[0].create_timestamp.timestamp()


def materialized_since(
    context: dg.SensorEvaluationContext, key: dg.AssetKey, since: float | None, field: str
) -> int:
    """The sum of the numeric metadata `field` over `key`'s materialisations after `since`."""
    instance = sensor_instance(context)
    after = dg.AssetRecordsFilter(asset_key=key, after_timestamp=since)
    records = instance.fetch_materializations(after, limit=100).records
    total = 0
    for record in records:
        materialization = record.asset_materialization
        value = materialization.metadata.get(field) if materialization else None
        total += int(getattr(value, "value", value) or 0)
    return total


def _in_flight_runs(context: dg.SensorEvaluationContext, job_name: str, limit: int) -> list[dg.DagsterRun]:
    # Every brand's location has a job of this name in the same instance: count only our own runs
    # (Dagster tags each run with its code location), or one brand's busy run would stall another.
    tags = _own_location(context)
    return list(
        sensor_instance(context).get_runs(
            filters=dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT, tags=tags), limit=limit
        )
    )


def runs_in_flight(context: dg.SensorEvaluationContext, job_name: str, limit: int = 1) -> int:
    """Runs of `job_name` queued or running (counted up to `limit`)."""
    return len(_in_flight_runs(context, job_name, limit))


def _not_working(
    context: dg.SensorEvaluationContext, runs: list[dg.DagsterRun], waiting_allowed: int = 0
) -> bool:
    """Some run is queued or starting, or more than `waiting_allowed` runs have a step waiting for
    a pool slot."""
    if any(run.status != dg.DagsterRunStatus.STARTED for run in runs):
        return True
    storage = sensor_instance(context).event_log_storage
    if not storage.supports_global_concurrency_limits:
        return False
    ids = {run.run_id for run in runs}
    infos = storage.get_concurrency_infos(sorted(storage.get_concurrency_keys()))
    waiting = set().union(*(ids & info.pending_run_ids for info in infos.values()))
    return len(waiting) > waiting_allowed


def lone_run_working_since(context: dg.SensorEvaluationContext, job_name: str) -> float | None:
    """When the one run of `job_name` in flight started, if it is the only one and it is working
    (started, its step not waiting for a pool); None otherwise (none, two, or one that waits)."""
    runs = _in_flight_runs(context, job_name, 2)
    if len(runs) != 1 or _not_working(context, runs):
        return None
    record = sensor_instance(context).get_run_record_by_id(runs[0].run_id)
    if record is None:
        return None
    return record.start_time or record.create_timestamp.timestamp()


def in_flight(context: dg.SensorEvaluationContext, job_name: str) -> bool:
    return runs_in_flight(context, job_name) > 0


def inbox_sensor_tick(
    context: dg.SensorEvaluationContext,
    source: str,
    job_name: str,
    poll_seconds: float | None,
    partition: bool,
    backlog_key: dg.AssetKey | None = None,
    wanted: Callable[[dict[str, Any]], bool] | None = None,
    max_in_flight: int = 1,
    wake: Callable[[dg.SensorEvaluationContext], str | None] | None = None,
    waiting_allowed: int = 0,
) -> dg.SensorResult | dg.SkipReason:
    """One run for everything that arrived since the cursor; never one run per event.

    `wanted` picks the events of the source that concern this job (several flows share the
    Peoplevox inbox); the cursor moves past the others too, since they never will.
    `max_in_flight` above 1 lets the next run start up while one works (its steps still wait
    for their pools), for a job whose run start-up is a large share of its latency; not while
    the one in flight is itself queued or waiting for a pool slot, when the next would only
    wait too, holding one of the brand's run slots that release and status need.
    `wake` asks for a run for a reason of the job's own (read from Dagster's records), or None.
    `waiting_allowed` runs of the job may wait for a pool while the next starts up: for a job whose
    steps hand a pool from run to run (despatches' `shopify_fulfil`), so the run after the waiting
    one has started and read by the time the waiting one takes the pool.
    """
    cursor = InboxCursor.parse(context.cursor)
    flying = _in_flight_runs(context, job_name, max_in_flight)
    if len(flying) >= max_in_flight:
        # The running batch will read the ledger cursor anyway; new events wait one tick.
        return dg.SkipReason(f"{job_name} already queued or running")
    if flying and _not_working(context, flying, waiting_allowed):
        # A second run would only wait too, holding one of the brand's run slots meanwhile.
        return dg.SkipReason(
            f"{job_name} already in flight and waiting (queued, starting or waiting for a pool)"
        )
    arrived = Inbox(SyncSettings().inbox_dir).since(source, after=cursor.last_item, limit=100_000)
    new = [item for item in arrived if wanted is None or _wants(wanted, item)]
    now = time.time()
    poll_due = poll_seconds is not None and now - cursor.requested_at >= poll_seconds
    backlog = backlog_key is not None and backlogged(context, backlog_key)
    woken = wake(context) if wake is not None and not new and not backlog else None
    if not new and not poll_due and not backlog and not woken:
        if arrived:  # only other flows' events: move past them
            return dg.SensorResult(
                skip_reason=f"no new {source} events for {job_name}",
                cursor=InboxCursor(arrived[-1].name, cursor.requested_at).dump(),
            )
        return dg.SkipReason(f"no new {source} events")
    last = arrived[-1].name if arrived else cursor.last_item
    trigger = f"{len(new)} {source} event(s)" if new else ("backlog" if backlog else woken or "poll interval")
    request = dg.RunRequest(
        run_key=f"{job_name}:{last or 'start'}:{int(now)}",
        partition_key=datetime.now(UTC).strftime("%Y-%m-%d") if partition else None,
        tags={"sync/trigger": trigger},
    )
    return dg.SensorResult(run_requests=[request], cursor=InboxCursor(last, now).dump())


def backlogged(context: dg.SensorEvaluationContext, key: dg.AssetKey) -> bool:
    """The latest materialisation of `key` stopped at its time budget with work left (its own
    `caught_up` metadata False): the flow's next run should start at once."""
    return latest_metadata(context, key)[1].get("caught_up") is False


def latest_metadata(
    source: dg.SensorEvaluationContext | dg.DagsterInstance, key: dg.AssetKey
) -> tuple[float, dict]:
    """The latest materialisation's time and metadata (from a sensor's context or an instance);
    `key` from the asset (`asset.key`), so a brand's sensors read their own brand's assets."""
    instance = source if isinstance(source, dg.DagsterInstance) else sensor_instance(source)
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return 0.0, {}
    values = {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}
    return event.timestamp, values


def behind(source: dg.SensorEvaluationContext | dg.DagsterInstance, keys: Iterable[dg.AssetKey]) -> list[str]:
    """Of `keys`, the flows whose latest run stopped with Shopify work left (their own `caught_up`
    metadata False), by name."""
    return ["/".join(key.path) for key in keys if latest_metadata(source, key)[1].get("caught_up") is False]
