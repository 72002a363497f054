"""A despatch read's ledger statements do not grow with its packages: new packages, tracking numbers
that arrived and re-reported lines are written a statement each, not a statement a package. At a
despatch peak a read of a minute of despatches (~1,400 packages) held the ledger 63 s at load 19
(session 10's despatch benchmark), and the fulfil step waiting for the lock failed with
LedgerBusyError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.read import ReadReport, read_despatches
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import UK, into_warehouse, ports
from sync_pipeline_tests.despatches.test_wave_statements import _Counting
from sync_pipeline_tests.orders.conftest import Stack


def _counted_read(stack: Stack, hinted: tuple[str, ...] = ()) -> tuple[int, ReadReport]:
    counted = [0]
    plain = stack.ledger.transaction

    @contextmanager
    def counting() -> Iterator[Any]:
        with plain() as con:
            yield _Counting(con, counted)

    stack.ledger.transaction = counting  # type: ignore[method-assign]
    try:
        report = read_despatches(
            ports(stack).source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2), hinted=hinted
        )
    finally:
        del stack.ledger.transaction
    return counted[0], report


def _despatched(stack: Stack, orders: int) -> list[str]:
    """`orders` one-line orders, each despatched as two packages, the second without tracking."""
    placed = [
        stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=2)], shipping_address=UK))[
            "id"
        ]
        for _ in range(orders)
    ]
    numbers = into_warehouse(stack)
    late = []
    for oid in placed:
        made = stack.pvx.despatch(numbers[oid], [{"CAP-NVY": 1}, {"CAP-NVY": 1}], late_tracking=[False, True])
        late.append(made["packages"][1]["number"])
    return late


def test_a_reads_ledger_statements_do_not_grow_with_its_packages(stack: Stack) -> None:
    few_late = _despatched(stack, 1)
    few, first = _counted_read(stack)
    for number in few_late:
        stack.pvx.assign_tracking(number)
    few_tracked, first_tracked = _counted_read(stack, hinted=tuple(few_late))

    many_late = _despatched(stack, 12)
    many, second = _counted_read(stack)
    for number in many_late:
        stack.pvx.assign_tracking(number)
    many_tracked, second_tracked = _counted_read(stack, hinted=tuple(many_late))

    assert (first.new_packages, second.new_packages) == (2, 24), (first, second)
    assert (first_tracked.tracking_added, second_tracked.tracking_added) == (1, 12)
    with stack.ledger.transaction() as con:
        rows = con.execute(
            "SELECT state, tracking_number IS NOT NULL, items->>'$.CAP-NVY', despatch_date = despatched_at::DATE "
            "FROM despatch_packages"
        ).fetchall()
    assert len(rows) == 26 and set(rows) == {(states.PENDING, True, "1", True)}, set(rows)
    # 22 packages more, 11 tracking numbers more: fewer than one statement a package more (a new
    # package, or a number that arrived, was an INSERT or UPDATE of its own).
    assert many - few < 10, (few, many)
    assert many_tracked - few_tracked < 10, (few_tracked, many_tracked)
