"""How the orders flow reacts to what Peoplevox may do that is not confirmed (issues 15, 16.3):
callbacks are only a nudge, a cancel is believed only once read back, and an unknown status is
past the cut-off. Strict in-memory stand-ins; the same reactions run against the sandbox in
`orders/test_peoplevox_reactions_e2e.py`."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_pipeline_tests.domain.factories import T0
from sync_pipeline_tests.flows.standins.world import World
from sync_pipeline_tests.flows.test_orders_defects import injected


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, T0)


@pytest.mark.parametrize("forged", ["Despatched", "Cancelled"])
def test_a_forged_status_callback_does_not_stick(world: World, forged: str) -> None:
    oid = injected(world)
    number = world.number(oid)
    world.statuses()  # the genuine callbacks so far
    world.inbox.write(
        "peoplevox", {"event": "SalesOrderStatusChanges", "params": {"number": number, "status": forged}}
    )
    report = world.statuses()
    assert report.from_callbacks == 1
    row = world.row(oid)
    assert (row.state, row.pvx_status) == ("in_warehouse", "New")
    assert world.open_exceptions(oid) == []


def test_a_callback_is_a_nudge_to_read_the_order(world: World) -> None:
    oid = injected(world)
    world.pvx.progress(world.number(oid), "Allocated")  # its callback carries no status we read
    world.statuses()
    assert world.row(oid).pvx_status == "Allocated"


def test_a_cancel_peoplevox_accepts_but_does_not_apply_is_an_exception_for_cx(world: World) -> None:
    oid = injected(world)
    world.pvx.ignore_cancel = True
    world.shop.cancel(oid)
    world.ingest()
    world.release()
    row = world.row(oid)
    assert (row.state, row.pvx_status, row.change_pending) == ("in_warehouse", "New", False)
    [problem] = world.open_exceptions(oid)
    assert (problem.kind, problem.owner) == ("cancel_not_confirmed", "cx")
    assert "reports the order as New" in problem.message
    # Someone cancels it in Peoplevox by hand: the status run reads it and the exception closes.
    world.pvx.cancel_by_hand(world.number(oid))
    world.statuses()
    assert world.row(oid).state == "cancelled_in_warehouse"
    assert world.open_exceptions(oid) == []


def test_a_tenant_that_refuses_status_cancelled_gets_an_exception_for_cx(world: World) -> None:
    oid = injected(world)
    world.pvx.warehouse.settings.cancel_by_import = False
    world.shop.cancel(oid)
    world.ingest()
    world.release()
    assert world.row(oid).state == "in_warehouse"
    [problem] = world.open_exceptions(oid)
    assert (problem.kind, problem.owner) == ("change_failed", "cx")
    assert "Status cannot be changed from New to Cancelled by import" in problem.message


def test_an_unknown_status_is_recorded_and_counts_as_past_the_cutoff(world: World) -> None:
    oid = injected(world)
    world.pvx.warehouse.settings.reported_statuses = {"Allocated": "Awaiting stock"}
    world.pvx.progress(world.number(oid), "Allocated")
    world.statuses()
    assert world.row(oid).pvx_status == "Awaiting stock"
    world.shop.set_quantity(oid, "TEE-BLK-M", 2)
    world.ingest()
    world.release()
    assert world.held(oid) == ("Allocated", {"TEE-BLK-M": 1})  # nothing pushed
    [problem] = world.open_exceptions(oid)
    assert problem.kind == "change_after_cutoff" and "unknown ('Awaiting stock')" in problem.message
