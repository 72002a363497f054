"""The warehouse simulator on its own, with a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sync_pipeline.sandbox.peoplevox.clock import SimClock
from sync_pipeline.sandbox.peoplevox.warehouse import Warehouse, WarehouseError, WarehouseSettings

DAY = 86_400


def _warehouse(**settings: object) -> tuple[Warehouse, list[tuple[str, dict[str, str]]]]:
    events: list[tuple[str, dict[str, str]]] = []
    w = Warehouse(
        SimClock(datetime(2026, 10, 1, 8, tzinfo=UTC)),
        WarehouseSettings(**settings),  # type: ignore[arg-type]
        emit=lambda t, v: events.append((t, v)),
    )
    w.upsert_item("A", "1")
    w.upsert_item("B", "2")
    w.set_stock("A", "PrimarySite", 10)
    w.set_stock("B", "PrimarySite", 10)
    return w, events


def _order(w: Warehouse, number: str, lines: dict[str, int], **fields: object) -> None:
    w.upsert_order(number, dict(fields))
    for i, (code, qty) in enumerate(lines.items(), start=1):
        w.upsert_line(number, str(i), code, qty, {})


def test_order_moves_through_every_status_with_events() -> None:
    w, events = _warehouse()
    _order(w, "SO1", {"A": 2})
    seen = []
    for _ in range(5):
        w.advance(3600)
        seen.append(w.orders["SO1"].status)
    statuses = [v["SalesOrderStatus.Name"] for t, v in events if t == "SalesOrderStatusChanges"]
    assert statuses == ["New", "Allocated", "Picking", "Packed", "Despatched"]
    assert seen[-1] == "Despatched"
    level = w.stock[("A", "PrimarySite")]
    assert (level.on_hand, level.allocated, level.despatched) == (8, 0, 2)
    assert any(t == "TrackingNumberReceived" for t, _ in events)


def test_allocation_reserves_and_waits_for_stock() -> None:
    w, events = _warehouse()
    _order(w, "BIG", {"A": 15})
    _order(w, "SMALL", {"A": 4})
    w.advance(400)
    assert w.orders["BIG"].status == "New" and w.orders["SMALL"].status == "Allocated"
    assert w.stock[("A", "PrimarySite")].available == 6
    assert (
        "AvailabilityChanges",
        {"ItemCode": "A", "Available": "6", "SiteReference": "PrimarySite"},
    ) in events
    w.goods_in("A", "PrimarySite", 20, "PO-1")
    w.advance(700)
    assert w.orders["BIG"].status in ("Allocated", "Picking")
    assert any(t == "GoodsReceived" and v["Reference"] == "PO-1" for t, v in events)


def test_cancellation_before_cutoff_releases_stock_and_is_refused_after() -> None:
    w, _ = _warehouse()
    _order(w, "C1", {"A": 3})
    _order(w, "C2", {"A": 3})
    w.advance(400)
    assert w.stock[("A", "PrimarySite")].allocated == 6
    w.upsert_order("C1", {"Status": "Cancelled"})
    assert w.orders["C1"].status == "Cancelled"
    assert w.stock[("A", "PrimarySite")].allocated == 3
    w.force_status("C2", "Picking")
    with pytest.raises(WarehouseError, match="only be cancelled before Picking"):
        w.upsert_order("C2", {"Status": "Cancelled"})


def test_lines_are_frozen_after_new_and_identical_resends_are_fine() -> None:
    w, _ = _warehouse()
    _order(w, "L1", {"A": 1})
    w.force_status("L1", "Allocated")
    w.upsert_line("L1", "1", "A", 1, {})
    with pytest.raises(WarehouseError):
        w.upsert_line("L1", "2", "B", 1, {})
    w.upsert_order("L1", {})
    with pytest.raises(WarehouseError):
        w.upsert_order("L1", {"Status": "Despatched"})


def test_multi_package_numbering() -> None:
    w, _ = _warehouse(units_per_package=2)
    _order(w, "M1", {"A": 3, "B": 2})
    w.force_status("M1", "Despatched")
    [despatch] = w.despatches.values()
    assert [p.number for p in despatch.packages] == ["DES00001-1", "DES00001-2", "DES00001-3"]
    assert len({p.tracking_number for p in despatch.packages}) == 3
    assert sum(sum(p.items.values()) for p in despatch.packages) == 5
    _order(w, "M2", {"A": 1})
    w.force_status("M2", "Despatched")
    assert [p.number for p in w.despatches["DES00002"].packages] == ["DES00002"]


def test_short_pick_gives_a_partial_then_a_second_despatch() -> None:
    w, _ = _warehouse(short_pick_rate=1.0)
    _order(w, "P1", {"A": 3})
    w.advance(300 + 900 + 600 + 1800)
    order = w.orders["P1"]
    assert order.status == "Allocated" and order.partially_despatched
    assert order.lines["1"].despatched == 2 and order.lines["1"].allocated == 1
    w.advance(DAY)
    assert order.status == "Despatched" and len(w.despatches) == 2
    assert w.stock[("A", "PrimarySite")].on_hand == 7


def test_returns_add_stock_and_are_bounded() -> None:
    w, events = _warehouse()
    _order(w, "R1", {"A": 2})
    w.force_status("R1", "Despatched")
    w.process_return("R1", "A", 1, "Too small")
    assert w.stock[("A", "PrimarySite")].on_hand == 9
    with pytest.raises(WarehouseError):
        w.process_return("R1", "A", 2)
    assert any(t == "Returns" and v["Quantity"] == "1" for t, v in events)


def test_on_hold_and_action_1_are_not_allocated() -> None:
    w, _ = _warehouse()
    _order(w, "H1", {"A": 1}, OnHold=True)
    w.upsert_order("H2", {}, allocate=False)
    w.upsert_line("H2", "1", "A", 1, {})
    w.advance(DAY)
    assert w.orders["H1"].status == "New" and w.orders["H2"].status == "New"
    w.upsert_order("H1", {"OnHold": False})
    w.upsert_order("H2", {})
    w.advance(DAY)
    assert w.orders["H1"].status == "Despatched" and w.orders["H2"].status == "Despatched"
