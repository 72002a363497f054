"""AvailabilityChanges callbacks → the queue of items to re-read from Peoplevox.

A callback is a hint, never a figure: it says "this item changed somewhere" (no placeholder names
the site) and the run re-reads the item at every site. Every callback counts, a repeated value
included: availability 5 → 4 → 5 is three changes, and the receiver keeps all three.
A callback whose `{ItemCode}` came back unfilled names nothing; the hourly reconcile covers it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import Ledger, stock_snapshots
from sync_pipeline.lib.ledger import cursors as ledger_cursors
from sync_pipeline.lib.peoplevox import callbacks

INBOX_CURSOR = "inbox_peoplevox_stock"
EVENT = callbacks.AVAILABILITY_CHANGES.event
# Enough for a few minutes of a busy warehouse per run; the rest waits for the next run.
MAX_EVENTS = 200_000


@dataclass(frozen=True)
class HintReport:
    callbacks: int
    items: int
    unnamed: int


def queue_from_inbox(inbox: Inbox, ledger: Ledger, now: datetime) -> HintReport:
    """Add the items named since the cursor to the queue, and move the cursor, in one transaction."""
    after = ledger.get_cursor(INBOX_CURSOR)
    arrived = inbox.since("peoplevox", after=after, limit=MAX_EVENTS)
    named: Counter[str] = Counter()
    unnamed = 0
    for item in arrived:
        try:
            event = item.load()
        except (OSError, ValueError):
            continue  # pruned meanwhile: the reconcile covers it
        if event.get("event") != EVENT:
            continue
        code = callbacks.filled(event.get("params") or {}).get(callbacks.ITEM_CODE, "").strip()
        if code:
            named[code] += 1
        else:
            unnamed += 1
    if arrived:
        with ledger.transaction() as con:
            stock_snapshots.hint(con, named, now)
            ledger_cursors.put(con, INBOX_CURSOR, arrived[-1].name)
    return HintReport(sum(named.values()), len(named), unnamed)
