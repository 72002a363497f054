"""Status runs read Peoplevox by modification time, a page of up to 1,000 orders a request, not
each order a callback named by number (100 a request, once per run it was named in); nothing
modified while the pages are read is skipped; a tenant without the report is read by number."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from sync_pipeline.lib.flows.orders import state, statuses
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.orders import OrderRow
from sync_pipeline.sandbox.peoplevox import reports
from sync_pipeline_tests.domain.factories import T0
from sync_pipeline_tests.flows.standins.world import World

REPORT_READ = "GetReportData Sales order summary"
LOOKUP = "GetData Sales orders"


def _rows(world: World, oids: list[str]) -> list[OrderRow]:
    """The ledger rows of `oids`, in one transaction (one each costs ~0.1 s)."""
    with world.ledger.transaction() as con:
        rows = ledger_orders.get_many(con, oids)
    return [rows[oid] for oid in oids]


def _world_with_orders(tmp_path: Path, count: int) -> tuple[World, list[str], list[str]]:
    """`count` orders in Peoplevox: (the world, their order ids, their sales order numbers)."""
    world = World(tmp_path, T0, hold_seconds=30)
    oids = [world.shop.place([("TEE-BLK-M", 1), ("CAP-BLK-OS", 1)]) for _ in range(count)]
    world.release_due()
    rows = _rows(world, oids)
    assert {row.state for row in rows} == {state.IN_WAREHOUSE}
    return world, oids, [row.sales_order_number or "" for row in rows]


def test_a_status_run_reads_every_changed_order_in_one_report_request(tmp_path: Path) -> None:
    world, oids, numbers = _world_with_orders(tmp_path, 150)
    for number in numbers[:60]:
        world.pvx.progress(number, "Allocated")
    world.pvx.cancel_by_hand(numbers[60])
    world.pvx.requests.clear()

    report = world.statuses()

    # 150 orders named by callbacks: 2 lookups by number (and 2 more for the poll) before.
    assert dict(world.pvx.requests) == {REPORT_READ: 1}
    assert (report.source, report.from_report, report.report_requests) == ("report", 150, 1)
    rows = _rows(world, oids)
    assert [row.pvx_status for row in rows[:60]] == ["Allocated"] * 60
    assert rows[60].state == state.CANCELLED_BY_WAREHOUSE
    assert {row.pvx_status for row in rows[61:]} == {"New"}

    # From the cursor on: the cursor's own minute again (report dates are whole minutes: that is
    # the overlap) and what changed since, still one request; then only what changed since.
    world.pvx.requests.clear()
    world.pvx.warehouse_clock.advance(120)
    world.pvx.progress(numbers[0], "Picking")
    assert world.statuses().from_report == 150 and world.row(oids[0]).pvx_status == "Picking"
    world.pvx.warehouse_clock.advance(120)
    world.pvx.progress(numbers[1], "Picking")
    assert world.statuses().from_report == 2 and world.row(oids[1]).pvx_status == "Picking"
    assert dict(world.pvx.requests) == {REPORT_READ: 2}


def test_an_order_modified_while_the_pages_are_read_is_not_skipped(tmp_path: Path) -> None:
    world, _, numbers = _world_with_orders(tmp_path, 6)
    for number in numbers:  # one a minute: numbers[5] is the newest
        world.pvx.warehouse_clock.advance(60)
        world.pvx.progress(number, "Allocated")
    since = world.pvx.warehouse_clock.now() - timedelta(minutes=6)

    def floor_moves_the_oldest() -> None:
        world.pvx.warehouse_clock.advance(60)
        world.pvx.progress(numbers[0], "Picking")

    world.pvx.before_page[2] = [floor_moves_the_oldest]  # between the first and second page
    read = world.pvx.statuses_changed_since(since, page_size=2)

    assert read is not None
    # Every order modified before the read began is in it; the one modified during the read may
    # be missed only because its change is newer than anything read, so the next read has it.
    assert set(numbers[1:]) <= set(read.statuses)
    assert all(read.statuses[n] == "Allocated" for n in numbers[1:])
    assert read.newest is not None
    after = world.pvx.statuses_changed_since(read.newest)
    assert after is not None and after.statuses[numbers[0]] == "Picking"


def test_a_tenant_without_the_report_is_read_by_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(reports.REPORTS, reports.SALES_ORDER_SUMMARY_REPORT.lower())
    world, oids, numbers = _world_with_orders(tmp_path, 3)
    world.pvx.progress(numbers[0], "Allocated")
    world.pvx.requests.clear()

    report = world.statuses()

    assert report.source == "lookups" and report.from_callbacks > 0
    assert world.pvx.requests[REPORT_READ] == 1 and world.pvx.requests[LOOKUP] >= 1
    assert world.row(oids[0]).pvx_status == "Allocated"


def test_the_poll_reads_only_orders_no_read_has_seen_lately(tmp_path: Path) -> None:
    world, oids, numbers = _world_with_orders(tmp_path, 3)
    world.statuses()
    # A change the report misses (committed behind the cursor): the cursor is put past it.
    world.ledger.set_cursor(
        statuses.REPORT_CURSOR, (world.pvx.warehouse_clock.now() + timedelta(hours=1)).isoformat()
    )
    world.pvx.progress(numbers[0], "Allocated")
    world.pvx.requests.clear()

    report = world.statuses()
    assert (report.polled, world.pvx.requests[LOOKUP]) == (0, 0)  # every order was seen just now
    assert world.row(oids[0]).pvx_status == "New"

    late = statuses.StatusReport()
    statuses.poll(world.pvx, world.ledger, "statuses", late, unchecked_for=timedelta(0))
    assert late.polled == 3 and world.pvx.requests[LOOKUP] == 1
    assert world.row(oids[0]).pvx_status == "Allocated"
