"""Peoplevox sales-order statuses back into the ledger: read by modification time, a poll as the safety net.

A callback (SalesOrderStatusChanges, via the receiver's inbox) only says "this sales order
changed": the status is always read from Peoplevox, never taken from the callback, so a forged
or garbled callback cannot set a status (the callback URL's token is the only thing that
authenticates it, and the status placeholder's spelling is unconfirmed). Applying the same
status twice writes nothing.

A status run (`read_statuses`) reads every sales order Peoplevox modified since the last run
from the `Sales order summary` report, up to 1,000 a request, from a cursor on Peoplevox's own
modification times: at a peak, reading each order a callback named by number (100 a request,
once per run it was named in) cost about as many requests as injecting it. Callbacks then only
wake the run. The poll re-reads by number the open orders no read has seen for `POLL_AFTER`
(an order read late, a change committed behind the cursor). A tenant without that report (or
its columns) is read as before: each named order by number, and the poll over every open order.

A cancellation we did not ask for (the warehouse cancelled an order Shopify still wants shipped)
moves the order to `cancelled_by_warehouse` with an exception for CX: nothing would ship, and
nobody would know.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import duckdb

from sync_pipeline.lib.domain.statuses import PeoplevoxStatus, parse_status
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.ports import Warehouse
from sync_pipeline.lib.flows.stock.inputs import awaits_allocation
from sync_pipeline.lib.inbox import Inbox, InboxItem
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, OrderEvent, utcnow
from sync_pipeline.lib.ledger import cursors as ledger_cursors
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import injections as ledger_injections
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.peoplevox import callbacks

INBOX_CURSOR = "inbox_peoplevox_status"
# Peoplevox's own modification time of the newest sales order the last status run read (a whole
# minute, as report dates are): the next run reads from that minute on, so it reads that minute
# again, which is the overlap. With no cursor yet, a run reads back INITIAL_LOOKBACK.
REPORT_CURSOR = "peoplevox_status_modified"
INITIAL_LOOKBACK = timedelta(days=1)
# An open order no status read has seen for this long is read by number (the safety net).
POLL_AFTER = timedelta(minutes=10)
# Settled once Peoplevox reports the order Cancelled and Shopify wants it cancelled too (a cancel
# the tenant left to people, done by hand; a warehouse cancellation Shopify then followed).
SETTLED_BY_CANCEL = ("cancel_not_confirmed", "cancelled_by_warehouse")
FINAL_STATUSES = (PeoplevoxStatus.DESPATCHED.value, PeoplevoxStatus.CANCELLED.value)
# The one parameter of our SalesOrderStatusChanges callback read here (lib/peoplevox/callbacks.py):
# the status parameter is never read (see above).
CALLBACK_NUMBER = callbacks.ORDER_NUMBER

# Called in the transaction that records the statuses, with the orders whose units stopped (or
# started) awaiting allocation; returns how many items it queued. The stock target holds back units
# awaiting allocation, and Peoplevox's AvailabilityChanges callback for an allocation usually comes
# before its status does: a stock run in between holds the units back twice, and no later callback
# names the item. The stock flow queues those items (`lib/flows/stock/hints.for_orders`).
AllocationMoved = Callable[[duckdb.DuckDBPyConnection, list[str]], int]


@dataclass
class StatusReport:
    from_callbacks: int = 0
    polled: int = 0
    changed: int = 0
    unknown_numbers: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    stock_items_hinted: int = 0  # items queued for the stock flow (AllocationMoved)
    source: str = "report"  # "report": read by modification time; "lookups": by number
    from_report: int = 0  # sales orders the report listed (ours or not)
    report_requests: int = 0


def allocation_moved(old: ledger_orders.OrderRow, new: ledger_orders.OrderRow) -> bool:
    """The order's units stopped (or started) awaiting allocation between `old` and `new`: its
    items' stock targets moved, and no AvailabilityChanges callback may say so (`AllocationMoved`).
    Every writer of `pvx_status` stamps such orders `pvx_status_learned_at` (and no others but
    orders past allocation whose quantities the change run changed: `changes._record_one`)."""
    return awaits_allocation(old.state, old.pvx_status) != awaits_allocation(new.state, new.pvx_status)


def apply_statuses(
    ledger: Ledger,
    observed: Iterable[tuple[str, str]],
    actor: str,
    report: StatusReport,
    on_allocation: AllocationMoved | None = None,
) -> None:
    """(sales order number, status Peoplevox reported) pairs → ledger, one event per real change."""
    latest = dict(observed)  # later observations of the same order win
    if not latest:
        return
    with ledger.transaction() as con:
        rows = ledger_orders.by_sales_order_number(con, latest)
        record_statuses(con, rows, latest, actor, report, on_allocation)


def record_statuses(
    con: duckdb.DuckDBPyConnection,
    rows: dict[str, ledger_orders.OrderRow],
    latest: dict[str, str],
    actor: str,
    report: StatusReport,
    on_allocation: AllocationMoved | None = None,
) -> None:
    """`apply_statuses` in the caller's transaction, against `rows` (by sales order number) read in it.

    Every write is one statement for the whole batch: row by row, a status run's few hundred
    changes were a statement each (and a transaction's lock held for them) while the step held
    its pool (`peoplevox_orders` now, then `peoplevox_api`).
    """
    events = []
    problems = []
    moved: list[str] = []
    updates: list[tuple[str, dict[str, object]]] = []
    settled: list[tuple[str, str]] = []  # (order id, resolution): cancellations Shopify wants too
    for number, status_name in latest.items():
        row = rows.get(number)
        if row is None:
            report.unknown_numbers += 1
            continue
        status = parse_status(status_name)
        name = status.value if status else status_name
        if row.pvx_status == name:
            continue
        fields: dict[str, object] = {"pvx_status": name, "pvx_status_at": utcnow()}
        new_state, problem = after_status(row, name)
        if new_state != row.state:
            fields["state"] = new_state
        if new_state == state.CANCELLED_IN_WAREHOUSE:
            settled.append((row.shopify_order_id, f"Peoplevox reports {number} as {name}"))
        problems.extend([problem] if problem else [])
        if allocation_moved(row, replace(row, state=new_state, pvx_status=name)):
            moved.append(row.shopify_order_id)
        updates.append((row.shopify_order_id, fields))
        events.append(
            OrderEvent(row.shopify_order_id, "pvx_status", actor, reason=f"{row.pvx_status or '?'} → {name}")
        )
        report.changed += 1
        report.statuses[name] += 1
    ledger_orders.set_fields_many(con, updates)
    ledger_orders.mark_allocation_learned(con, moved)
    ledger_exceptions.resolve_each_order(con, settled, SETTLED_BY_CANCEL)
    ledger_exceptions.open_or_touch(con, problems)
    ledger_events.append(con, events)
    if moved and on_allocation is not None:
        report.stock_items_hinted += on_allocation(con, moved)


def after_status(row: ledger_orders.OrderRow, status_name: str) -> tuple[str, ExceptionRecord | None]:
    """The order's state once Peoplevox reports `status_name`, and the exception that brings.

    Every writer of `pvx_status` applies it (status runs, the change push, in-doubt
    confirmations), so a cancellation is never recorded without its state: a cancellation
    Shopify also wants is `cancelled_in_warehouse`; one Shopify does not know about is
    `cancelled_by_warehouse`, with an exception for CX.
    """
    if parse_status(status_name) is not PeoplevoxStatus.CANCELLED or row.state != state.IN_WAREHOUSE:
        return row.state, None
    if row.cancelled_at is not None or (row.financial_status or "").upper() == "REFUNDED":
        return state.CANCELLED_IN_WAREHOUSE, None
    number = row.sales_order_number
    return state.CANCELLED_BY_WAREHOUSE, ExceptionRecord(
        kind="cancelled_by_warehouse",
        owner="cx",
        message=f"Peoplevox reports sales order {number} ({row.order_name}) as Cancelled, but it is live "
        "in Shopify: nothing will ship. Cancel and refund it in Shopify, or have the warehouse re-create it",
        shopify_order_id=row.shopify_order_id,
        sales_order_number=number,
    )


def from_inbox(
    inbox: Inbox,
    warehouse: Warehouse,
    ledger: Ledger,
    actor: str,
    report: StatusReport,
    limit: int = 5000,
    on_allocation: AllocationMoved | None = None,
) -> None:
    """Read from Peoplevox the status of every sales order a callback named since the cursor."""
    after = ledger.get_cursor(INBOX_CURSOR)
    items = inbox.since("peoplevox", after=after, limit=limit)
    named: list[str] = []
    for item in items:
        event = item.load()
        if event.get("event") != "SalesOrderStatusChanges":
            continue
        number = callbacks.filled(event.get("params") or {}).get(CALLBACK_NUMBER, "").strip()
        if number:
            named.append(number)
    report.from_callbacks += len(named)
    with ledger.transaction() as con:
        ours = list(ledger_orders.by_sales_order_number(con, named))  # only our orders cost a read
    report.unknown_numbers += len(set(named) - set(ours))
    _read_and_apply(warehouse, ledger, ours, actor, report, on_allocation)
    if items:
        ledger.set_cursor(INBOX_CURSOR, items[-1].name)


def read_statuses(
    inbox: Inbox,
    warehouse: Warehouse,
    ledger: Ledger,
    actor: str,
    report: StatusReport,
    now: datetime,
    on_allocation: AllocationMoved | None = None,
) -> None:
    """One status run: what Peoplevox modified since the last run, then the poll of orders no read
    has seen for `POLL_AFTER`; by number instead when the tenant cannot list changes."""
    with ledger.transaction() as con:
        inbox_cursor, stored = ledger_cursors.get(con, INBOX_CURSOR), ledger_cursors.get(con, REPORT_CURSOR)
    # Taken before the read, so every callback skipped names a change the read covers.
    callbacks_so_far = inbox.since("peoplevox", after=inbox_cursor, limit=5000)
    if from_report(warehouse, ledger, actor, report, now, stored, callbacks_so_far, on_allocation):
        poll(warehouse, ledger, actor, report, on_allocation=on_allocation, unchecked_for=POLL_AFTER)
        return
    report.source = "lookups"
    from_inbox(inbox, warehouse, ledger, actor, report, on_allocation=on_allocation)
    poll(warehouse, ledger, actor, report, on_allocation=on_allocation)


def from_report(
    warehouse: Warehouse,
    ledger: Ledger,
    actor: str,
    report: StatusReport,
    now: datetime,
    stored: str | None,
    covered: Sequence[InboxItem] = (),
    on_allocation: AllocationMoved | None = None,
) -> bool:
    """Statuses of the sales orders Peoplevox modified since `stored` (the report cursor); False if
    it cannot list them. `covered`: status callbacks listed before the read, which it covers:
    counted, and the inbox cursor moved past them (nothing read for them)."""
    since = datetime.fromisoformat(stored) if stored else now - INITIAL_LOOKBACK
    changes = warehouse.statuses_changed_since(since)
    if changes is None:
        return False
    report.from_report += len(changes.statuses)
    report.report_requests += changes.requests
    report.from_callbacks += sum(item.load().get("event") == "SalesOrderStatusChanges" for item in covered)
    # One transaction for what the read found (only our orders count), their marks and the cursors.
    with ledger.transaction() as con:
        ours = ledger_orders.by_sales_order_number(con, list(changes.statuses))
        record_statuses(con, ours, {n: changes.statuses[n] for n in ours}, actor, report, on_allocation)
        ledger_orders.touch_status_checked(con, ours)  # seen now: the poll leaves them alone
        if changes.newest is not None and (stored is None or changes.newest > datetime.fromisoformat(stored)):
            ledger_cursors.put(con, REPORT_CURSOR, changes.newest.isoformat())
        if covered:
            ledger_cursors.put(con, INBOX_CURSOR, covered[-1].name)
    return True


def poll(
    warehouse: Warehouse,
    ledger: Ledger,
    actor: str,
    report: StatusReport,
    max_orders: int = 500,
    on_allocation: AllocationMoved | None = None,
    unchecked_for: timedelta | None = None,
) -> None:
    """Read by number the open orders least recently checked (with `unchecked_for`, only those
    unchecked for that long)."""
    checked_before = None if unchecked_for is None else datetime.now(UTC) - unchecked_for
    with ledger.transaction() as con:
        numbers = ledger_injections.accepted_numbers_before_status(
            con, FINAL_STATUSES, limit=max_orders, checked_before=checked_before
        )
    report.polled += len(numbers)
    if not numbers:
        return
    # The warehouse port chunks the lookup itself (`peoplevox_port.LOOKUP_CHUNK`).
    found = warehouse.find_sales_orders(numbers, with_items=False)
    with ledger.transaction() as con:
        rows = ledger_orders.by_sales_order_number(con, found)
        record_statuses(con, rows, {n: o.status for n, o in found.items()}, actor, report, on_allocation)
        ledger_orders.touch_status_checked(con, numbers)


def _read_and_apply(
    warehouse: Warehouse,
    ledger: Ledger,
    numbers: list[str],
    actor: str,
    report: StatusReport,
    on_allocation: AllocationMoved | None = None,
) -> None:
    # The warehouse port chunks the lookup itself (`peoplevox_port.LOOKUP_CHUNK`).
    found = warehouse.find_sales_orders(numbers, with_items=False)
    observed = [(n, o.status) for n, o in found.items()]
    apply_statuses(ledger, observed, actor, report, on_allocation)
