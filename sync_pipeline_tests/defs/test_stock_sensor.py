"""The stock sensor wakes for orders Peoplevox allocated: evaluated for real against a test instance."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test

from sync_pipeline.definitions import defs
from sync_pipeline.lib.inbox import Inbox

DEFINITIONS = defs()
peoplevox_availability_events = DEFINITIONS.resolve_sensor_def("peoplevox_availability_events")
STATUSES = dg.AssetKey(["peoplevox", "sales_order_statuses"])
RELEASE = dg.AssetKey(["peoplevox", "sales_orders"])  # release records statuses too (in-doubt orders)


def _tick(instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorExecutionData:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=DEFINITIONS)
    return peoplevox_availability_events.evaluate_tick(context)


def test_a_status_run_that_queued_allocated_items_wakes_one_stock_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNC_DATA_DIR", str(tmp_path))  # an empty inbox: no callback to wake it
    with dg.instance_for_test() as instance:
        assert _tick(instance).run_requests == []
        instance.report_runless_asset_event(
            dg.AssetMaterialization(STATUSES, metadata={"stock_items_hinted": 0})
        )
        assert _tick(instance).run_requests == []  # statuses moved no stock

        instance.report_runless_asset_event(
            dg.AssetMaterialization(STATUSES, metadata={"stock_items_hinted": 2})
        )
        woken = _tick(instance).run_requests
        assert [r.tags["sync/trigger"] for r in woken] == ["2 item(s) of allocated orders"]

        # A stock run that started after that status run has read the queue: nothing more to do.
        create_run_for_test(instance, job_name="stock_changes_job", status=dg.DagsterRunStatus.SUCCESS)
        assert _tick(instance).run_requests == []

        instance.report_runless_asset_event(
            dg.AssetMaterialization(RELEASE, metadata={"stock_items_hinted": 1})
        )
        assert [r.tags["sync/trigger"] for r in _tick(instance).run_requests] == [
            "1 item(s) of allocated orders"
        ]


def test_callbacks_that_arrive_while_a_stock_run_waits_make_one_run_not_one_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rehearsal's goods-in during a sale: a callback a second while the stock run waited for
    # Shopify's pool. They are one run's items when it is done, not 300 runs queued behind it.
    monkeypatch.setenv("SYNC_DATA_DIR", str(tmp_path))
    inbox = Inbox(tmp_path / "inbox")
    with dg.instance_for_test() as instance:
        run = create_run_for_test(instance, job_name="stock_changes_job", status=dg.DagsterRunStatus.STARTING)
        cursor = None
        for n in range(300):
            inbox.write(
                "peoplevox", {"event": "AvailabilityChanges", "params": {"ItemCode": f"SKU-{n % 120}"}}
            )
            if n % 100 == 0:
                busy = _tick(instance, cursor)
                assert busy.run_requests == [] and "already in flight and waiting" in (
                    busy.skip_message or ""
                )
                cursor = busy.cursor
        instance.report_run_failed(run)  # done (failed or not): the next run may start
        after = _tick(instance, cursor)
        assert [r.tags["sync/trigger"] for r in after.run_requests] == ["300 peoplevox event(s)"]
        create_run_for_test(instance, job_name="stock_changes_job", status=dg.DagsterRunStatus.STARTED)
        assert _tick(instance, after.cursor).run_requests == []


def test_while_one_stock_run_works_the_next_starts_up_and_a_third_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's start-up is a large share of a change's way to Shopify: while one run works (started,
    not waiting for a pool) the next run starts up; with two in flight the callbacks wait."""
    monkeypatch.setenv("SYNC_DATA_DIR", str(tmp_path))
    inbox = Inbox(tmp_path / "inbox")
    with dg.instance_for_test() as instance:
        create_run_for_test(instance, job_name="stock_changes_job", status=dg.DagsterRunStatus.STARTED)
        inbox.write("peoplevox", {"event": "AvailabilityChanges", "params": {"ItemCode": "SKU-1"}})
        second = _tick(instance)
        assert [r.tags["sync/trigger"] for r in second.run_requests] == ["1 peoplevox event(s)"]
        create_run_for_test(instance, job_name="stock_changes_job", status=dg.DagsterRunStatus.STARTED)
        inbox.write("peoplevox", {"event": "AvailabilityChanges", "params": {"ItemCode": "SKU-2"}})
        third = _tick(instance, second.cursor)
        assert third.run_requests == [] and "already queued or running" in (third.skip_message or "")
