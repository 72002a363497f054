"""Stock movements outside sales orders: stock counts and write-offs, and the bad-feed fault.

What the floor does to availability besides allocating and despatching orders (which
``warehouse.py`` models), each raising AvailabilityChanges as Peoplevox would:

* **Stock count** (a cycle count or a full count): the counted figure replaces on hand; the
  difference is an adjustment. A count may find fewer units than are allocated: Peoplevox then
  reports a negative availability until the short orders are dealt with (assumed; the stock flow
  floors every published figure at 0).
* **Write-off**: units found damaged or missing (a picker finds the bin short) leave on hand.
* Returns graded **not reusable** never reach on hand (``Warehouse.process_return``): they are
  quarantined and raise no availability change.

The **bad feed** (``FaultSettings.inventory_feed``) is a maintenance window on the Peoplevox
side: the ``Item inventory summary`` report answers ``0`` for every row (``zero``) or no rows at
all (``empty``), with ResponseId 0 as if nothing were wrong, while the floor keeps its real
stock. It exists so the stock flow's circuit breaker can be proven.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sync_pipeline.sandbox.peoplevox.faults import InventoryFeed
from sync_pipeline.sandbox.peoplevox.warehouse import Warehouse, WarehouseError


@dataclass(frozen=True)
class Adjustment:
    item_code: str
    site: str
    delta: int
    reason: str
    at: datetime


def count_stock(w: Warehouse, item_code: str, site: str, counted: int) -> Adjustment:
    """A stock count found `counted` units on hand at `site`."""
    with w.lock:
        site = w.check_site(site)
        if item_code not in w.items:
            raise WarehouseError(f"Item type '{item_code}' does not exist")
        if counted < 0:
            raise WarehouseError("a counted quantity cannot be negative")
        level = w.level(item_code, site)
        delta = counted - level.on_hand
        level.on_hand = counted
        level.adjusted += delta
        if delta:
            w.on_hand_changed(item_code, site, delta, "Stock count")
            w.availability_changed(item_code, site)
        return Adjustment(item_code, site, delta, "Stock count", w.clock.now())


def write_off(w: Warehouse, item_code: str, site: str, quantity: int, reason: str = "Damaged") -> Adjustment:
    """`quantity` units leave on hand (damaged, or missing when a picker finds the bin short)."""
    with w.lock:
        site = w.check_site(site)
        if item_code not in w.items:
            raise WarehouseError(f"Item type '{item_code}' does not exist")
        level = w.level(item_code, site)
        if quantity <= 0 or quantity > level.on_hand:
            raise WarehouseError(f"cannot write off {quantity} of '{item_code}': {level.on_hand} on hand")
        level.on_hand -= quantity
        level.adjusted -= quantity
        w.on_hand_changed(item_code, site, -quantity, reason)
        w.availability_changed(item_code, site)
        return Adjustment(item_code, site, -quantity, reason, w.clock.now())


def feed_rows(rows: list[dict[str, Any]], feed: InventoryFeed) -> list[dict[str, Any]]:
    """The Item inventory summary as a bad feed shows it: every figure 0, or nothing at all."""
    if feed == "empty":
        return []
    if feed == "zero":
        return [{**row, "On hand": 0, "Allocated": 0, "Available": 0} for row in rows]
    return rows
