"""Issue 14's "also look into" list, each tested against the real flow code with strict
in-memory stand-ins of both systems (the inbox ones are with the receiver's owner, issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_pipeline_tests.domain.factories import T0
from sync_pipeline_tests.flows.standins.world import World
from sync_pipeline_tests.flows.test_orders_defects import injected


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, T0)


def test_confirming_an_in_doubt_injection_records_the_status_peoplevox_reports(world: World) -> None:
    oid = world.shop.place([("TEE-BLK-M", 1)])
    world.pvx.lose_answers["Sales order items"] = 1  # the items are applied, the answer is lost
    world.release_due()
    assert world.row(oid).state == "injecting"
    world.pvx.progress(world.number(oid), "Picking")  # the floor moved on meanwhile
    report = world.release()
    assert report.in_doubt_resolved == {"found_in_peoplevox": 1}
    row = world.row(oid)
    assert (row.state, row.pvx_status) == ("in_warehouse", "Picking")


def test_an_order_never_goes_live_without_its_items_on_a_floor_that_allocates_at_once(world: World) -> None:
    world.rules = world.rules.with_orders(injection_batch_rows=4)
    world.pvx.instant_allocation = True
    three_items = [("TEE-BLK-M", 1), ("CAP-BLK-OS", 1), ("SOCK-BLK-OS", 1)]
    orders = [world.shop.place(three_items) for _ in range(3)]
    report = world.release_due()
    assert (report.injected, report.failed) == (3, 0), report.summary
    for oid in orders:
        assert world.held(oid) == ("Allocated", {"TEE-BLK-M": 1, "CAP-BLK-OS": 1, "SOCK-BLK-OS": 1})


def test_a_cancellation_by_the_warehouse_is_an_exception_for_cx(world: World) -> None:
    oid = injected(world)
    world.pvx.cancel_by_hand(world.number(oid))
    world.statuses()
    row = world.row(oid)
    assert (row.state, row.pvx_status) == ("cancelled_by_warehouse", "Cancelled")
    [problem] = world.open_exceptions(oid)
    assert (problem.kind, problem.owner) == ("cancelled_by_warehouse", "cx")
    # CX cancels it in Shopify: the ledger settles it as cancelled at our request.
    world.shop.cancel(oid)
    world.ingest()
    world.release()
    assert world.row(oid).state == "cancelled_in_warehouse"
    assert world.open_exceptions(oid) == []


def test_a_cancellation_we_pushed_is_no_exception(world: World) -> None:
    oid = injected(world)
    world.shop.cancel(oid)
    world.ingest()
    world.release()
    world.statuses()
    assert world.row(oid).state == "cancelled_in_warehouse"
    assert world.open_exceptions(oid) == []


def test_a_full_refund_after_injection_cancels_the_sales_order(world: World) -> None:
    oid = injected(world)
    world.shop.refund(oid, restock=False)  # money back, line items left as they were
    world.ingest()
    assert world.row(oid).change_pending
    report = world.release()
    assert report.changes["cancel"] == 1
    assert world.held(oid) == ("Cancelled", {"TEE-BLK-M": 1})
    assert world.row(oid).state == "cancelled_in_warehouse"


def test_a_held_order_keeps_only_the_exceptions_still_true(world: World) -> None:
    oid = world.shop.place([("MUG-LOGO", 1), ("PEN-BLU", 1)])
    world.release_due()
    assert world.open_kinds(oid) == ["unmapped_sku", "unmapped_sku"]
    world.pvx.warehouse.upsert_item("MUG-LOGO", "5099", "Mug")
    world.tick(60)
    world.release()
    [left] = world.open_exceptions(oid)
    assert "PEN-BLU" in left.message
    assert world.row(oid).state == "held"


def test_a_cancellation_by_the_warehouse_seen_first_by_the_change_push_is_recorded_the_same(
    world: World,
) -> None:
    oid = injected(world)
    world.pvx.cancel_by_hand(world.number(oid))
    world.shop.change(oid, email="new@example.com")  # a change is pending when the push reads it
    world.ingest()
    world.release()
    row = world.row(oid)
    assert (row.state, row.pvx_status) == ("cancelled_by_warehouse", "Cancelled")
    assert "cancelled_by_warehouse" in world.open_kinds(oid)
