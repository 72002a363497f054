"""Read each order's money from Shopify into the ledger, replacing what was held for it.

Normal runs read every order updated since the cursor (minus an overlap: Shopify's timestamps have
whole seconds), so a refund, capture or return made since the last read is there the next time.
A backfill re-reads the orders created in a window of days and leaves the cursor alone. Orders
are written a chunk at a time, so a long read keeps its progress if it stops.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice

from sync_pipeline.lib.flows.finance.ports import MoneySource
from sync_pipeline.lib.ledger import Ledger, cursors
from sync_pipeline.lib.ledger import finance_orders as ledger_finance
from sync_pipeline.lib.ledger.finance_orders import FinanceOrderSet

CURSOR = "shopify_money_updated_at"
CURSOR_OVERLAP = timedelta(seconds=30)
CHUNK = 500


@dataclass
class MoneyReport:
    orders_read: int = 0
    cursor: str | None = None
    by_status: dict[str, int] | None = None


def _chunks(orders: Iterable[FinanceOrderSet], size: int) -> Iterable[list[FinanceOrderSet]]:
    it = iter(orders)
    while chunk := list(islice(it, size)):
        yield chunk


def read_money(
    source: MoneySource,
    ledger: Ledger,
    now: datetime,
    initial_lookback: timedelta,
    window: tuple[datetime, datetime] | None = None,
) -> MoneyReport:
    """Orders updated since the cursor, or (`window`) created in [start, end)."""
    report = MoneyReport(by_status={})
    if window is not None:
        orders = source.orders_between("created_at", *window)
    else:
        stored = ledger.get_cursor(CURSOR)
        since = datetime.fromisoformat(stored) - CURSOR_OVERLAP if stored else now - initial_lookback
        orders = source.orders_between("updated_at", since)
    newest: datetime | None = None
    for chunk in _chunks(orders, CHUNK):
        newest = max([s.order.shopify_updated_at for s in chunk] + ([newest] if newest else []))
        with ledger.transaction() as con:
            ledger_finance.replace_orders(con, chunk)
            if window is None:  # in the same transaction: the cursor never runs ahead of the rows
                cursors.put(con, CURSOR, newest.astimezone(UTC).isoformat())
        report.orders_read += len(chunk)
        for s in chunk:
            status = s.order.financial_status or "UNKNOWN"
            report.by_status[status] = report.by_status.get(status, 0) + 1  # type: ignore[index]
    report.cursor = newest.astimezone(UTC).isoformat() if newest and window is None else None
    return report
