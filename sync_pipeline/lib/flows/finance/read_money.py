"""Read each order's money from Shopify into the ledger, replacing what was held for it.

Normal runs read every order updated since the cursor (minus an overlap: Shopify's timestamps have
whole seconds), so a refund, capture or return made since the last read is there the next time.
A backfill re-reads the orders created in a window of days and leaves the cursor alone. Orders
are written a chunk at a time, so a long read keeps its progress if it stops.

An order Shopify's client could not read whole (too big for one query's cost cap, `unreadable`) is
not written: its figures would undercount. It gets a `finance_order_unreadable` exception instead;
every run asks for the held orders again by id and closes the exception of one read whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice

import duckdb

from sync_pipeline.lib.domain.exception_catalogue import Owner
from sync_pipeline.lib.flows.finance.ports import MoneySource
from sync_pipeline.lib.ledger import Ledger, cursors
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import finance_orders as ledger_finance
from sync_pipeline.lib.ledger.finance_orders import FinanceOrderSet
from sync_pipeline.lib.ledger.records import ExceptionRecord

CURSOR = "shopify_money_updated_at"
CURSOR_OVERLAP = timedelta(seconds=30)
CHUNK = 500
UNREADABLE = "finance_order_unreadable"


@dataclass
class MoneyReport:
    orders_read: int = 0
    unreadable: int = 0  # orders held with a `finance_order_unreadable` exception this read
    cursor: str | None = None
    by_status: dict[str, int] | None = None


def _chunks(orders: Iterable[FinanceOrderSet], size: int) -> Iterable[list[FinanceOrderSet]]:
    it = iter(orders)
    while chunk := list(islice(it, size)):
        yield chunk


def _unreadable(s: FinanceOrderSet) -> ExceptionRecord:
    return ExceptionRecord(
        kind=UNREADABLE,
        owner=Owner.FINANCE,
        message=f"Shopify order {s.order.order_name}: {s.unreadable}; its money is not recorded from this "
        "read (figures would be undercounted)",
        shopify_order_id=s.order.shopify_order_id,
        subject=s.order.shopify_order_id,
    )


def _record(con: duckdb.DuckDBPyConnection, chunk: list[FinanceOrderSet]) -> int:
    """Write the orders read whole and close their unreadable exceptions; hold the rest with one."""
    whole = [s for s in chunk if s.unreadable is None]
    held = [s for s in chunk if s.unreadable is not None]
    ledger_finance.replace_orders(con, whole)
    ledger_exceptions.open_or_touch(con, [_unreadable(s) for s in held])
    ids = {s.order.shopify_order_id for s in whole}
    for _, order_id in ledger_exceptions.open_subjects(con, [UNREADABLE]):
        if order_id in ids:
            ledger_exceptions.resolve_for_subject(con, [UNREADABLE], order_id, "read whole from Shopify")
    return len(held)


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
            report.unreadable += _record(con, chunk)
            if window is None:  # in the same transaction: the cursor never runs ahead of the rows
                cursors.put(con, CURSOR, newest.astimezone(UTC).isoformat())
        report.orders_read += len(chunk)
        for s in chunk:
            status = s.order.financial_status or "UNKNOWN"
            report.by_status[status] = report.by_status.get(status, 0) + 1  # type: ignore[index]
    report.cursor = newest.astimezone(UTC).isoformat() if newest and window is None else None
    _read_held_again(source, ledger, report)
    return report


def _read_held_again(source: MoneySource, ledger: Ledger, report: MoneyReport) -> None:
    """Ask again by id for the orders held unreadable (the cursor has gone past them): one read whole
    is written and its exception closed, as if it had come round in the search."""
    with ledger.transaction() as con:
        held = sorted(order_id for _, order_id in ledger_exceptions.open_subjects(con, [UNREADABLE]))
    if not held:
        return
    again = source.orders(held)  # no ledger connection is held across the network call
    with ledger.transaction() as con:
        _record(con, again)
