"""Read: Peoplevox's despatched packages into the ledger, idempotently by package number.

Normal runs read the Despatch summary from the ledger cursor (minus an overlap: report dates have
minute precision) and re-read by number the packages still waiting for a tracking number and the
ones callbacks named. Callbacks are only hints: what lands in the ledger is what the report says.
A backfill re-reads a window of despatch dates and leaves the cursor alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb

from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.ports import (
    DespatchedPackage,
    DespatchRead,
    DespatchSource,
    HeldPackage,
)
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, OrderEvent
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.despatches import PackageRow
from sync_pipeline.lib.ledger.records import to_naive_utc
from sync_pipeline.lib.peoplevox import callbacks

CURSOR = "peoplevox_despatch_date"
INBOX_CURSOR = "inbox_peoplevox_despatches"
# Report dates are whole minutes and a despatch may be committed a little after its timestamp.
CURSOR_OVERLAP = timedelta(minutes=3)
# Rows per despatch minute of the overlap the next read starts from ([cursor - overlap, cursor)), as
# the last read saw them (JSON, minute → rows). At a peak the overlap holds thousands of rows, a
# request per 1,000, re-read by every run; when Peoplevox counts as many rows there as we saw
# (one request), nothing was committed late and only [cursor, …) is read (`_overlap_unchanged`).
OVERLAP_ROWS = "peoplevox_despatch_overlap_rows"
UNREADABLE = "despatch_unreadable"
CHANGED_AFTER_SEND = "despatch_changed_after_fulfilment"
# Not sent to Shopify yet: a re-report with other lines replaces the package's lines.
REPLACEABLE = (*states.OPEN, states.UNKNOWN_ORDER)
# Packages that went to Shopify (or into a bundle's pool) without a tracking number are re-read by
# number for this long after they were read, newest first and at most `LATE_TRACKING_REREAD` a run:
# the number is added to the fulfilment when it comes, and a TrackingNumberReceived callback is only
# a hint that may be lost. Past it, only a callback brings the number (an untracked service never
# gets one, and re-reading those for good would grow every run's reads).
LATE_TRACKING_WINDOW = timedelta(hours=24)
LATE_TRACKING_REREAD = 300


@dataclass
class ReadReport:
    rows_read: int = 0
    packages_read: int = 0
    new_packages: int = 0
    tracking_added: int = 0
    tracking_changed: int = 0
    items_changed: int = 0  # known packages re-reported with other lines (replaced or flagged)
    unknown_orders: int = 0
    hinted: int = 0
    held: int = 0  # packages held with a `despatch_unreadable` exception this read
    overlap_unchanged: bool = False  # Peoplevox counted the overlap as last read: read from the cursor
    cursor: str | None = None
    new_by_order: dict[str, list[str]] = field(default_factory=dict)


def hinted_packages(inbox: Inbox, ledger: Ledger) -> tuple[list[str], str | None]:
    """Package numbers named by TrackingNumberReceived callbacks since the inbox cursor."""
    found = callbacks.names_since(
        inbox,
        callbacks.TRACKING_NUMBER_RECEIVED,
        callbacks.DESPATCH_NUMBER,
        ledger.get_cursor(INBOX_CURSOR),
        20_000,
    )
    return list(dict.fromkeys(found.names)), found.last_item


def _row(p: DespatchedPackage, order_id: str | None) -> PackageRow:
    at = to_naive_utc(p.despatched_at)
    assert at is not None
    return PackageRow(
        package_number=p.package_number,
        despatch_number=p.despatch_number,
        sales_order_number=p.sales_order_number,
        shopify_order_id=order_id,
        despatched_at=at,
        despatch_date=at.date(),
        carrier=p.carrier,
        service=p.service,
        site=p.site,
        tracking_number=p.tracking_number,
        tracking_seen_at=None,
        items=p.items,
        state=states.PENDING if order_id else states.UNKNOWN_ORDER,
        state_reason=None if order_id else "sales order is none we sent",
        line_quantities=None,
        first_seen_at=at,
        updated_at=at,
    )


def _unknown(number: str, package: str) -> ExceptionRecord:
    return ExceptionRecord(
        kind="despatch_for_unknown_order",
        owner=states.OWNERS["despatch_for_unknown_order"],
        message=f"Peoplevox despatched package {package} for sales order {number}, which this integration "
        "never sent; check the order in Peoplevox (created by hand, or another channel's)",
        sales_order_number=number,
        subject=package,
    )


def _unreadable(held: HeldPackage) -> ExceptionRecord:
    order = f" (sales order {held.sales_order_number})" if held.sales_order_number else ""
    return ExceptionRecord(
        kind=UNREADABLE,
        owner=states.OWNERS[UNREADABLE],
        message=f"Peoplevox's Despatch summary shows package {held.package_number or '(no number)'}{order} "
        f"with {held.problem}; the package is held (nothing from these rows is recorded or fulfilled) "
        "and read again every run",
        sales_order_number=held.sales_order_number,
        subject=held.package_number,
    )


def _changed_after_send(
    row: PackageRow, before: dict[str, int], now: dict[str, int], in_doubt: bool = False
) -> ExceptionRecord:
    def units(items: dict[str, int]) -> str:
        return ", ".join(f"{q} × {code}" for code, q in items.items()) or "nothing"

    # Being sent (`fulfilling`: every send, not only one whose answer was lost): its answer or the
    # lookup settles it (created or found: this stands; not in Shopify: closed, the new lines go).
    sent = (
        f"is being sent to Shopify as {units(before)} and its answer is awaited (if Shopify does not "
        "create it, the new lines go instead and this closes)"
        if in_doubt
        else f"went to Shopify as {units(before)} and Shopify's fulfilment was left as it is"
    )
    return ExceptionRecord(
        kind=CHANGED_AFTER_SEND,
        owner=states.OWNERS[CHANGED_AFTER_SEND],
        message=f"Peoplevox now reports package {row.package_number} with {units(now)}; it {sent}: "
        "check what left the warehouse",
        shopify_order_id=row.shopify_order_id,
        sales_order_number=row.sales_order_number,
        subject=row.package_number,
    )


def _pooled_and_unused(
    con: duckdb.DuckDBPyConnection, before: dict[str, PackageRow], items: dict[str, dict[str, int]]
) -> set[str]:
    """Pooled packages re-reported with other lines whose units nothing has used yet: no later
    package of their order has gone to Shopify (or been found fulfilled by hand) since. Such a
    package never went to Shopify itself, so it takes the new lines like an open one. (Until
    2026-12-01 it kept the old ones, flagged "changed after it went to Shopify": a bundle part read
    before its package was whole was never fulfilled.)"""
    changed = {
        n: p for n, p in before.items() if p.state == states.POOLED and p.items != items.get(n, p.items)
    }
    if not changed:
        return set()
    by_order = ledger_despatches.for_orders(
        con, [p.shopify_order_id for p in changed.values() if p.shopify_order_id]
    )
    gone = (states.FULFILLING, states.FULFILLED, states.FULFILLED_ELSEWHERE)
    return {
        n
        for n, p in changed.items()
        if p.carried_by is None
        and not any(
            q.state in gone and (q.despatched_at, q.package_number) > (p.despatched_at, p.package_number)
            for q in by_order.get(p.shopify_order_id or "", [])
        )
    }


def record_packages(ledger: Ledger, read: DespatchRead, actor: str, report: ReadReport) -> None:
    """Upsert packages and append what is new to each order's audit log, in one transaction.

    Held packages get an exception and nothing else; packages held before that now read whole
    have theirs resolved.
    """
    found = read.packages
    report.packages_read += len(found)
    report.held += len(read.held)
    if read.held:
        with ledger.transaction() as con:
            ledger_exceptions.open_or_touch(con, [_unreadable(h) for h in read.held])
    if not found:
        return
    with ledger.transaction() as con:
        numbers = {p.package_number for p in found}
        for _, number in ledger_exceptions.open_subjects(con, [UNREADABLE]):
            if number in numbers:
                ledger_exceptions.resolve_for_subject(con, [UNREADABLE], number, "read whole from Peoplevox")
        orders = ledger_orders.by_sales_order_number(con, [p.sales_order_number for p in found])
        rows = [_row(p, orders[p.sales_order_number].shopify_order_id if p.sales_order_number in orders else None)
                for p in found]  # fmt: skip
        before = ledger_despatches.get_many(con, [r.package_number for r in rows])
        unsent_pool = _pooled_and_unused(con, before, {r.package_number: r.items for r in rows})
        counts = ledger_despatches.upsert(con, rows, REPLACEABLE, unsent_pool, in_doubt=(states.FULFILLING,))
        # A pooled package that took other lines is planned again from them.
        for number in set(counts.items_replaced) & unsent_pool:
            ledger_despatches.set_state(
                con, number, states.PENDING, "reported again with other lines", {}, {}
            )
        by_number = {r.package_number: r for r in rows}
        events, problems = [], []
        for number in counts.new:
            row = by_number[number]
            units = ", ".join(f"{q} × {code}" for code, q in row.items.items())
            if row.shopify_order_id is None:
                problems.append(_unknown(row.sales_order_number, number))
                report.unknown_orders += 1
                continue
            tracking = (
                f" (tracking {row.tracking_number})" if row.tracking_number else " (no tracking number yet)"
            )
            events.append(
                OrderEvent(
                    row.shopify_order_id,
                    "despatched",
                    actor,
                    reason=f"Peoplevox despatched {number}: {units}{tracking}",
                )
            )
            report.new_by_order.setdefault(row.shopify_order_id, []).append(number)
        for number in counts.tracking_added:
            row = by_number[number]
            if row.shopify_order_id:
                events.append(
                    OrderEvent(
                        row.shopify_order_id,
                        "tracking_received",
                        actor,
                        reason=f"{number}: tracking number {row.tracking_number}",
                    )
                )
        for number in counts.tracking_changed:
            row, old = by_number[number], before[number].tracking_number
            if row.shopify_order_id:
                events.append(OrderEvent(row.shopify_order_id, "tracking_changed", actor,
                                         reason=f"{number}: tracking number {old} is now {row.tracking_number}"))  # fmt: skip
        for number in counts.items_replaced:
            row = by_number[number]
            if row.shopify_order_id:
                events.append(OrderEvent(row.shopify_order_id, "despatch_changed", actor,
                                         reason=f"{number}: Peoplevox reports other lines now, taken before it went to Shopify"))  # fmt: skip
        for number, items in counts.items_changed_after_send.items():
            doubt = before[number].state == states.FULFILLING
            problems.append(_changed_after_send(by_number[number], before[number].items, items, doubt))
        ledger_exceptions.resolve_for_subjects(
            con, [CHANGED_AFTER_SEND], counts.items_reverted,
            "Peoplevox reports the lines it is being sent with again",
        )  # fmt: skip
        ledger_events.append(con, events)
        ledger_exceptions.open_or_touch(con, problems)
    report.new_packages += len(counts.new)
    report.tracking_added += len(counts.tracking_added)
    report.tracking_changed += len(counts.tracking_changed)
    report.items_changed += len(counts.items_replaced) + len(counts.items_changed_after_send)


def adopt_unknown(ledger: Ledger, actor: str) -> int:
    """Packages whose sales order became known since (ingested later): attach them and let them go."""
    with ledger.transaction() as con:
        waiting = ledger_despatches.unmatched(con)
        if not waiting:
            return 0
        orders = ledger_orders.by_sales_order_number(con, [p.sales_order_number for p in waiting])
        matches = {p.package_number: orders[p.sales_order_number].shopify_order_id
                   for p in waiting if p.sales_order_number in orders}  # fmt: skip
        ledger_despatches.attach_orders(con, matches)
        for number, oid in matches.items():
            ledger_despatches.set_state(con, number, states.PENDING)
            ledger_exceptions.resolve_for_subject(
                con, ["despatch_for_unknown_order"], number, "the sales order is known now"
            )
            ledger_events.append(
                con, [OrderEvent(oid, "despatched", actor, reason=f"{number} matched to this order")]
            )
        return len(matches)


def read_despatches(
    source: DespatchSource,
    ledger: Ledger,
    actor: str,
    now: datetime,
    initial_lookback: timedelta,
    window: tuple[datetime, datetime] | None = None,
    hinted: Sequence[str] = (),
) -> ReadReport:
    report = ReadReport()
    stored = ledger.get_cursor(CURSOR)
    seen_before: dict[datetime, int] = {}
    if window is not None:
        found = source.packages_between(*window)
    else:
        since = datetime.fromisoformat(stored) - CURSOR_OVERLAP if stored else now - initial_lookback
        seen_before = _overlap_unchanged(source, ledger, stored)
        report.overlap_unchanged = bool(seen_before)
        found = source.packages_between(datetime.fromisoformat(stored) if seen_before and stored else since)
    record_packages(ledger, found, actor, report)
    with ledger.transaction() as con:
        waiting = ledger_despatches.awaiting_tracking(con, states.OPEN)
        # Until 2026-12-01 only open packages were re-read: one fulfilled without its number (the
        # default after `tracking_wait_minutes`) learned it from a callback alone.
        waiting += ledger_despatches.awaiting_tracking(
            con, (states.FULFILLED, states.POOLED), LATE_TRACKING_REREAD, now - LATE_TRACKING_WINDOW
        )
        held = [n for _, n in ledger_exceptions.open_subjects(con, [UNREADABLE]) if n]
    known = {p.package_number for p in found.packages} | {h.package_number for h in found.held}
    again = [n for n in dict.fromkeys([*waiting, *hinted, *sorted(held)]) if n not in known]
    report.hinted = len(hinted)
    if again:
        record_packages(ledger, source.packages_by_number(again), actor, report)
    adopt_unknown(ledger, actor)
    if window is None and found.packages:
        newest = max(p.despatched_at for p in found.packages).astimezone(UTC)
        if stored is None or newest > datetime.fromisoformat(stored):
            ledger.set_cursor(CURSOR, newest.isoformat())
    report.cursor = ledger.get_cursor(CURSOR)
    if window is None and report.cursor:
        _remember_overlap(ledger, report.cursor, {**seen_before, **found.rows_by_minute})
    return report


def _overlap_unchanged(source: DespatchSource, ledger: Ledger, stored: str | None) -> dict[datetime, int]:
    """The rows per minute the last read saw in [cursor - overlap, cursor), if Peoplevox still counts
    as many there (so nothing was committed late into it, and the read can start at the cursor);
    else {} (read the overlap again). Despatched packages are immutable in Peoplevox (a tracking
    number arriving is read by number: `awaiting_tracking`), so the same count is the same rows.
    Below a page of rows the count costs what it saves: the overlap is read as before."""
    if stored is None:
        return {}
    cursor = datetime.fromisoformat(stored)
    remembered = ledger.get_cursor(OVERLAP_ROWS)
    if not remembered:
        return {}
    saw = json.loads(remembered)
    if saw.get("cursor") != stored:
        return {}
    rows = {datetime.fromisoformat(k): int(v) for k, v in saw.get("rows", {}).items()}
    expected = sum(rows.values())
    if expected < source.rows_per_page:
        return {}
    if source.rows_between(cursor - CURSOR_OVERLAP, cursor) != expected:
        return {}
    return rows


def _remember_overlap(ledger: Ledger, cursor_text: str, rows_by_minute: dict[datetime, int]) -> None:
    """Rows per minute in the next read's overlap, [cursor - overlap, cursor): every one of those
    minutes was read from its start by this read (or found unchanged and remembered from the last)."""
    cursor = datetime.fromisoformat(cursor_text)
    rows = {
        m.isoformat(): n for m, n in sorted(rows_by_minute.items()) if cursor - CURSOR_OVERLAP <= m < cursor
    }
    ledger.set_cursor(OVERLAP_ROWS, json.dumps({"cursor": cursor_text, "rows": rows}))
