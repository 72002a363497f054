"""The orders sensors, evaluated for real against a test instance: batch per run, poll fallback."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from sync_pipeline.definitions import defs
from sync_pipeline.defs.orders.triggers import INGEST_POLL_SECONDS, RELEASE_SAFETY_SECONDS, release_reasons
from sync_pipeline.lib.inbox import Inbox

DEFINITIONS = defs()
shopify_order_events = DEFINITIONS.resolve_sensor_def("shopify_order_events")
peoplevox_status_events = DEFINITIONS.resolve_sensor_def("peoplevox_status_events")
orders_release_due = DEFINITIONS.resolve_sensor_def("orders_release_due")


@pytest.fixture
def inbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Inbox:
    monkeypatch.setenv("SYNC_DATA_DIR", str(tmp_path))
    return Inbox(tmp_path / "inbox")


def _tick(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None
) -> dg.SensorExecutionData:
    return sensor.evaluate_tick(
        dg.build_sensor_context(instance=instance, cursor=cursor, definitions=DEFINITIONS)
    )


def test_many_webhooks_make_one_run_and_lost_webhooks_are_polled(inbox: Inbox) -> None:
    with dg.instance_for_test() as instance:
        first = _tick(shopify_order_events, instance, None)
        assert len(first.run_requests) == 1  # nothing ever polled: poll now
        assert first.run_requests[0].tags["sync/trigger"] == "poll interval"

        quiet = _tick(shopify_order_events, instance, first.cursor)
        assert quiet.run_requests == [] and "no new shopify events" in (quiet.skip_message or "")

        for n in range(250):
            inbox.write("shopify", {"topic": "orders/paid", "n": n}, dedupe_key=f"wh-{n}")
        burst = _tick(shopify_order_events, instance, quiet.cursor or first.cursor)
        assert len(burst.run_requests) == 1  # a flash sale is one run, not 250
        assert burst.run_requests[0].tags["sync/trigger"] == "250 shopify event(s)"
        assert burst.run_requests[0].partition_key == datetime.now(UTC).strftime("%Y-%m-%d")

        # Every webhook lost: after the poll interval the sensor asks for a run anyway.
        stale = json.loads(burst.cursor)
        stale["requested_at"] = time.time() - INGEST_POLL_SECONDS - 1
        polled = _tick(shopify_order_events, instance, json.dumps(stale))
        assert len(polled.run_requests) == 1


def test_a_bulk_operation_finishing_does_not_wake_ingest(inbox: Inbox) -> None:
    """`bulk_operations/finish` shares the Shopify inbox (one webhook URL) but names no order."""
    with dg.instance_for_test() as instance:
        first = _tick(shopify_order_events, instance, None)  # the first poll
        payload = {"admin_graphql_api_id": "gid://shopify/BulkOperation/1", "status": "completed"}
        inbox.write("shopify", {"topic": "bulk_operations/finish", "payload": payload}, dedupe_key="b1")
        after = _tick(shopify_order_events, instance, first.cursor)
        assert after.run_requests == []
        assert json.loads(after.cursor)["last_item"] == inbox.since("shopify")[-1].name  # moved past it


def test_peoplevox_callbacks_trigger_a_status_run_but_silence_does_not(inbox: Inbox) -> None:
    with dg.instance_for_test() as instance:
        assert _tick(peoplevox_status_events, instance, None).run_requests == []
        inbox.write("peoplevox", {"event": "SalesOrderStatusChanges", "params": {"number": "SHP-1"}})
        assert len(_tick(peoplevox_status_events, instance, None).run_requests) == 1


def test_release_sensor_waits_for_the_first_ingest(inbox: Inbox) -> None:
    with dg.instance_for_test() as instance:
        result = _tick(orders_release_due, instance, None)
        assert result.run_requests == []
        assert "no ingest has run yet" in (result.skip_message or "")


def test_release_reasons() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert release_reasons(now, None, 0, 0, 10) == []
    assert release_reasons(now, (now + timedelta(seconds=5)).isoformat(), 0, 0, 10) == []
    assert release_reasons(now, (now - timedelta(seconds=1)).isoformat(), 0, 0, 10)[0].startswith(
        "orders due"
    )
    assert release_reasons(now, None, 3, 0, 10) == ["3 change(s) to push"]
    assert release_reasons(now, None, 0, 2, 10) == ["2 injection(s) to confirm"]
    assert release_reasons(now, None, 0, 0, RELEASE_SAFETY_SECONDS) == ["periodic safety run"]
    assert release_reasons(now, None, 0, 0, None) == ["periodic safety run"]


def test_an_ingest_that_stopped_at_its_batch_limit_gets_a_follow_up_run(inbox: Inbox) -> None:
    with dg.instance_for_test() as instance:
        quiet = _tick(shopify_order_events, instance, None).cursor
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=["shopify", "orders"], partition="2026-11-27", metadata={"caught_up": False}
            )
        )
        follow_up = _tick(shopify_order_events, instance, quiet)
        assert [r.tags["sync/trigger"] for r in follow_up.run_requests] == ["backlog"]
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=["shopify", "orders"], partition="2026-11-27", metadata={"caught_up": True}
            )
        )
        assert _tick(shopify_order_events, instance, follow_up.cursor).run_requests == []


def test_no_second_run_while_one_of_the_same_job_is_queued_or_running(inbox: Inbox) -> None:
    # Dagster's own test helper: records a run in the instance without executing it.
    from dagster._core.test_utils import create_run_for_test

    with dg.instance_for_test() as instance:
        inbox.write("shopify", {"topic": "orders/paid"}, dedupe_key="wh-1")
        run = create_run_for_test(instance, job_name="orders_ingest_job", status=dg.DagsterRunStatus.STARTED)
        busy = _tick(shopify_order_events, instance, None)
        assert busy.run_requests == [] and "already queued or running" in (busy.skip_message or "")
        assert busy.cursor is None  # the waiting events are not consumed by the skipped tick
        instance.report_run_failed(run)
        assert len(_tick(shopify_order_events, instance, None).run_requests) == 1


def test_release_wakes_when_an_order_an_ingest_in_flight_recorded_comes_due(inbox: Inbox) -> None:
    """The ingest run's materialisation comes at its end; each chunk it commits is observed with
    the earliest due time, and the release sensor acts on an observation newer than both runs'."""
    now = datetime.now(UTC)
    later = {"next_release_due_at": (now + timedelta(minutes=10)).isoformat()}
    with dg.instance_for_test() as instance:
        for key in (["shopify", "orders"], ["peoplevox", "sales_orders"]):
            partition = "2026-11-27" if key[0] == "shopify" else None
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key=key, partition=partition, metadata=later)
            )
        assert _tick(orders_release_due, instance, None).run_requests == []
        due = (now - timedelta(seconds=1)).isoformat()
        instance.report_runless_asset_event(
            dg.AssetObservation(asset_key=["shopify", "orders"], metadata={"next_release_due_at": due})
        )
        [request] = _tick(orders_release_due, instance, None).run_requests
        assert request.tags["sync/trigger"].startswith("orders due since")
        # A release run finishing after the observation knows better: its own figures count.
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=["peoplevox", "sales_orders"], metadata=later)
        )
        assert _tick(orders_release_due, instance, None).run_requests == []


def test_the_next_release_run_starts_up_while_one_releases_for_orders_it_cannot_have_seen(
    inbox: Inbox,
) -> None:
    """A release run's start-up (13-26 s at a peak) used to follow the run before it: the sensor
    skipped while one was in flight. Now a second starts up beside one that is releasing, for
    orders recorded since that one started, never for orders it could have taken, never beside a
    run that is itself still queued, and never a third."""
    from dagster._core.test_utils import create_run_for_test

    now = datetime.now(UTC)
    soon = (now - timedelta(seconds=1)).isoformat()
    with dg.instance_for_test() as instance:

        def observe_due(iso: str) -> None:
            instance.report_runless_asset_event(
                dg.AssetObservation(asset_key=["shopify", "orders"], metadata={"next_release_due_at": iso})
            )

        # Due before the run started: the run in flight takes it (it releases what is due for 30 s).
        observe_due(soon)
        time.sleep(1.1)  # run records keep their times to the second in some storages
        starting = create_run_for_test(
            instance, job_name="orders_release_job", status=dg.DagsterRunStatus.STARTING
        )
        waiting = _tick(orders_release_due, instance, None)
        assert waiting.run_requests == [] and "queued, starting or waiting" in (waiting.skip_message or "")

        instance.report_run_failed(starting)
        releasing = create_run_for_test(
            instance, job_name="orders_release_job", status=dg.DagsterRunStatus.STARTED
        )
        quiet = _tick(orders_release_due, instance, None)
        assert quiet.run_requests == [] and "nothing recorded since it started" in (quiet.skip_message or "")

        time.sleep(1.1)
        observe_due((now + timedelta(minutes=5)).isoformat())  # recorded since, not due for a while
        assert _tick(orders_release_due, instance, None).run_requests == []

        observe_due(soon)  # recorded since the run started, and due: it may have missed it
        [request] = _tick(orders_release_due, instance, None).run_requests
        assert request.tags["sync/trigger"].startswith(
            "orders recorded since the release run in flight started"
        )

        create_run_for_test(instance, job_name="orders_release_job", status=dg.DagsterRunStatus.STARTED)
        full = _tick(orders_release_due, instance, None)
        assert full.run_requests == [] and "2 release runs are already queued or running" in (
            full.skip_message or ""
        )
        instance.report_run_failed(releasing)
