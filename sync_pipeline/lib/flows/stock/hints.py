"""AvailabilityChanges callbacks → the queue of items to re-read from Peoplevox.

A callback is a hint, never a figure: it says "this item changed somewhere" (no placeholder names
the site) and the run re-reads the item at every site. Every callback counts, a repeated value
included: availability 5 → 4 → 5 is three changes, and the receiver keeps all three.
A callback whose `{ItemCode}` came back unfilled names nothing; the hourly reconcile covers it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.flows.stock.listings import recipes_for
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import cursors as ledger_cursors
from sync_pipeline.lib.ledger import stock_orders, stock_snapshots
from sync_pipeline.lib.peoplevox import callbacks

INBOX_CURSOR = "inbox_peoplevox_stock"
# Enough for a few minutes of a busy warehouse per run; the rest waits for the next run.
MAX_EVENTS = 200_000


@dataclass(frozen=True)
class HintReport:
    callbacks: int
    items: int
    unnamed: int


@dataclass(frozen=True)
class Arrived:
    """Callbacks read from the inbox since the cursor, not yet queued."""

    named: Counter[str]
    unnamed: int
    last_item: str | None


def read_inbox(inbox: Inbox, after: str | None) -> Arrived:
    """The items AvailabilityChanges callbacks named since the cursor (file reads, no ledger)."""
    found = callbacks.names_since(
        inbox, callbacks.AVAILABILITY_CHANGES, callbacks.ITEM_CODE, after, MAX_EVENTS
    )
    return Arrived(Counter(found.names), found.unnamed, found.last_item)


def queue(con: duckdb.DuckDBPyConnection, arrived: Arrived, now: datetime) -> HintReport:
    """Add what arrived to the queue and move the cursor past it (in the caller's transaction)."""
    if arrived.last_item is not None:
        stock_snapshots.hint(con, arrived.named, now)
        ledger_cursors.put(con, INBOX_CURSOR, arrived.last_item)
    return HintReport(sum(arrived.named.values()), len(arrived.named), arrived.unnamed)


def for_orders(rules: BusinessRules) -> Callable[[duckdb.DuckDBPyConnection, list[str]], int]:
    """Queue the items of orders whose units stopped (or started) awaiting allocation, in the
    caller's transaction (the status run's `on_allocation`): their targets moved although no
    AvailabilityChanges callback will say so. Returns how many items were queued.

    Stamped when queued, after the status is recorded, not when the run began: a stock read begun
    before the ledger learned the status holds the units back, and clearing the queue keeps only
    what was named after the read began (session-9 rehearsal: a status run began 23:10:41, queued
    111 items at 23:11:07 stamped 23:10:41; a read begun 23:10:53 cleared them, and REH-SCARCE-001
    stayed short in Shopify to the end)."""

    def hint_orders(con: duckdb.DuckDBPyConnection, order_ids: list[str]) -> int:
        skus = stock_orders.skus_of(con, order_ids)
        codes = {code for recipe in recipes_for(skus, rules).values() for code, _ in recipe}
        return stock_snapshots.hint(con, dict.fromkeys(sorted(codes), 1), datetime.now(UTC))

    return hint_orders
