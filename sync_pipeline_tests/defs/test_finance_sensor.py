"""`finance_money_backlog`, evaluated for real against a test instance: a money read stopped by its
time budget gets the next run at once, one per stopped read, none while finance is in flight, and
none while a flow customers wait on (ingest, fulfilments, stock pushes) is behind."""

from __future__ import annotations

import dagster as dg

from sync_pipeline.definitions import defs
from sync_pipeline.defs.finance.assets import shopify_order_money
from sync_pipeline.defs.finance.scope import RANGE_END, RANGE_START
from sync_pipeline.defs.finance.sensors import HOT_PATH

DEFINITIONS = defs()
finance_money_backlog = DEFINITIONS.resolve_sensor_def("finance_money_backlog")


def _tick(instance: dg.DagsterInstance) -> dg.SensorExecutionData:
    return finance_money_backlog.evaluate_tick(
        dg.build_sensor_context(instance=instance, definitions=DEFINITIONS)
    )


def _read(instance: dg.DagsterInstance, caught_up: bool) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=shopify_order_money.key, partition="2026-11-30", metadata={"caught_up": caught_up}
        )
    )


def test_a_money_read_stopped_by_its_budget_gets_the_next_run_at_once() -> None:
    from dagster._core.test_utils import create_run_for_test

    with dg.instance_for_test() as instance:
        assert _tick(instance).run_requests == []  # never read
        _read(instance, caught_up=False)
        [request] = _tick(instance).run_requests
        assert RANGE_START in request.tags and RANGE_END in request.tags  # the hourly run's days
        # The money read only: returns (Peoplevox) and the reconciliation wait for the hourly run.
        assert request.asset_selection == [shopify_order_money.key]
        assert _tick(instance).run_requests[0].run_key == request.run_key  # one run per stopped read
        run = create_run_for_test(instance, job_name="finance_job", status=dg.DagsterRunStatus.STARTED)
        busy = _tick(instance)
        assert busy.run_requests == [] and "already queued or running" in (busy.skip_message or "")
        instance.delete_run(run.run_id)
        _read(instance, caught_up=True)
        assert _tick(instance).run_requests == []


def _flow(instance: dg.DagsterInstance, key: dg.AssetKey, caught_up: bool) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=key, metadata={"caught_up": caught_up})
    )


def test_a_stopped_money_read_waits_while_a_flow_customers_wait_on_is_behind() -> None:
    with dg.instance_for_test() as instance:
        _read(instance, caught_up=False)
        for key in HOT_PATH:
            _flow(instance, key, caught_up=True)
        assert len(_tick(instance).run_requests) == 1  # the hot path caught up: the read goes on
        for key in HOT_PATH:
            _flow(instance, key, caught_up=False)
            waiting = _tick(instance)
            assert waiting.run_requests == [], key
            assert "/".join(key.path) in (waiting.skip_message or "")
            _flow(instance, key, caught_up=True)
        [request] = _tick(instance).run_requests  # all caught up again: the follow-up starts
        assert request.asset_selection == [shopify_order_money.key]
