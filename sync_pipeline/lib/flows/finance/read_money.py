"""Read each order's money from Shopify into the ledger, replacing what was held for it.

Normal runs read every order updated since the cursor (minus an overlap: Shopify's timestamps have
whole seconds), so a refund, capture or return made since the last read is there the next time.
They read a page at a time within a time budget (`money_read_max_seconds`, finance.yaml) and save
the cursor with each chunk written, so a run stopped by its budget, or one that died, is resumed
by the next from where it got to; orders read twice are replaced, never added.
A backfill re-reads the orders created in a window of days and leaves the cursor alone. Orders
are written a chunk at a time, so a long read keeps its progress if it stops.

An order Shopify's client could not read whole (too big for one query's cost cap, `unreadable`) is
not written: its figures would undercount. It gets a `finance_order_unreadable` exception instead;
every run asks for the held orders again by id and closes the exception of one read whole.
"""

from __future__ import annotations

import time
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
LISTED_AT = "shopify_money_listed_at"  # when the listing that reached the cursor was asked for
CURSOR_OVERLAP = timedelta(seconds=30)
CHUNK = 500
UNREADABLE = "finance_order_unreadable"


@dataclass
class MoneyReport:
    orders_read: int = 0
    unreadable: int = 0  # orders held with a `finance_order_unreadable` exception this read
    cursor: str | None = None
    by_status: dict[str, int] | None = None
    caught_up: bool = True  # False: stopped at its time budget with orders left to read

    def count(self, chunk: list[FinanceOrderSet]) -> None:
        self.orders_read += len(chunk)
        for s in chunk:
            status = s.order.financial_status or "UNKNOWN"
            self.by_status[status] = self.by_status.get(status, 0) + 1  # type: ignore[index]


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
    max_seconds: float | None = None,
) -> MoneyReport:
    """Orders updated since the cursor, or (`window`) created in [start, end).

    `max_seconds` bounds a read since the cursor (the live read holds the `shopify_finance` pool and
    spends the Shopify bucket ingest, fulfilments and stock pushes share): past it the read stops
    between two pages, once its cursor has moved past the stored one (so every run makes progress),
    with the cursor saved where it stopped and `caught_up=False`; the next run goes on from there."""
    report = MoneyReport(by_status={})
    if window is not None:
        for chunk in _chunks(source.orders_between("created_at", *window), CHUNK):
            with ledger.transaction() as con:
                report.unreadable += _record(con, chunk)
            report.count(chunk)
    else:
        _read_changed(source, ledger, now, initial_lookback, max_seconds, report)
    _read_held_again(source, ledger, report)
    return report


def _since(ledger: Ledger, now: datetime, initial_lookback: timedelta) -> tuple[datetime, datetime | None]:
    """Where the search starts, and the stored cursor. Shopify's `updated_at` index lags a change a
    little, so orders changed shortly before the listing that reached the cursor are read again
    (`CURSOR_OVERLAP`); a cursor the listing reached long after (a read catching up on a backlog,
    stopped by its budget) resumes where it stopped, not 30 s of pages back, which in a burst would
    be read again by every run before it got anywhere."""
    stored = ledger.get_cursor(CURSOR)
    if not stored:
        return now - initial_lookback, None
    cursor = datetime.fromisoformat(stored)
    listed_at = ledger.get_cursor(LISTED_AT)
    lagged_from = (datetime.fromisoformat(listed_at) if listed_at else cursor) - CURSOR_OVERLAP
    return min(cursor, lagged_from), cursor


def _read_changed(
    source: MoneySource,
    ledger: Ledger,
    now: datetime,
    initial_lookback: timedelta,
    max_seconds: float | None,
    report: MoneyReport,
) -> None:
    started = time.monotonic()
    since, stored = _since(ledger, now, initial_lookback)
    chunk: list[FinanceOrderSet] = []
    report.cursor = stored.astimezone(UTC).isoformat() if stored else None
    # How far past `stored` the listing got, and when the page that got there was asked for.
    reached: tuple[datetime, datetime] | None = None
    pages = iter(source.pages_changed_since(since))
    while True:
        asked = datetime.now(UTC)  # before the listing: earlier is the safe side of the index lag
        page = next(pages, None)
        if page is None:
            break
        chunk += page.orders
        # The cursor moves only forward (the overlap re-reads orders before the stored one), and
        # `LISTED_AT` is the time of the listing that first reached it, not of a later one that
        # saw it again: an order Shopify's index had not yet shown then is read by the next run.
        furthest = reached[0] if reached else stored
        if page.listed_up_to is not None and (furthest is None or page.listed_up_to > furthest):
            reached = (page.listed_up_to, asked)
        progressed = reached is not None
        spent = max_seconds is not None and time.monotonic() - started >= max_seconds
        # A run that has not got past the stored cursor yet reads on, or every run would stop on the
        # same pages.
        stop = spent and progressed
        if len(chunk) >= CHUNK or stop:
            _write_chunk(ledger, chunk, reached, report)
            chunk = []
        if stop:
            report.caught_up = False  # no further page is asked for
            break
    if chunk:
        _write_chunk(ledger, chunk, reached, report)


def _write_chunk(
    ledger: Ledger,
    chunk: list[FinanceOrderSet],
    reached: tuple[datetime, datetime] | None,
    report: MoneyReport,
) -> None:
    with ledger.transaction() as con:
        report.unreadable += _record(con, chunk)
        if reached is not None:  # in the same transaction: the cursor never runs ahead of the rows
            report.cursor = reached[0].astimezone(UTC).isoformat()
            cursors.put(con, CURSOR, report.cursor)
            cursors.put(con, LISTED_AT, reached[1].astimezone(UTC).isoformat())
    report.count(chunk)


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
