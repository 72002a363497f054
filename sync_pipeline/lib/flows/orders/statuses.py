"""Peoplevox sales-order statuses back into the ledger: callbacks first, a poll as the safety net.

Callbacks (SalesOrderStatusChanges, via the receiver's inbox) are fast but may be lost; the poll
re-reads the status of open sales orders, least recently checked first, so a lost callback is
caught within a few polls. Applying the same status twice writes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sync_pipeline.lib.domain.statuses import PeoplevoxStatus, parse_status
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.ports import Warehouse
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import Ledger, OrderEvent, utcnow
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import injections as ledger_injections
from sync_pipeline.lib.ledger import orders as ledger_orders

INBOX_CURSOR = "inbox_peoplevox_status"
FINAL_STATUSES = (PeoplevoxStatus.DESPATCHED.value, PeoplevoxStatus.CANCELLED.value)
# Query parameter names in our SalesOrderStatusChanges callback URL (see subscriptions.py).
CALLBACK_NUMBER, CALLBACK_STATUS = "number", "status"


@dataclass
class StatusReport:
    from_callbacks: int = 0
    polled: int = 0
    changed: int = 0
    unknown_numbers: int = 0
    statuses: Counter[str] = field(default_factory=Counter)


def apply_statuses(
    ledger: Ledger, observed: Iterable[tuple[str, str]], actor: str, report: StatusReport
) -> None:
    """(sales order number, Peoplevox status name) pairs → ledger, one event per real change."""
    latest = dict(observed)  # later observations of the same order win
    if not latest:
        return
    with ledger.transaction() as con:
        rows = ledger_orders.by_sales_order_number(con, latest)
        events = []
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
            if status is PeoplevoxStatus.CANCELLED and row.state == state.IN_WAREHOUSE:
                fields["state"] = state.CANCELLED_IN_WAREHOUSE
            ledger_orders.set_fields(con, row.shopify_order_id, **fields)
            events.append(
                OrderEvent(
                    row.shopify_order_id, "pvx_status", actor, reason=f"{row.pvx_status or '?'} → {name}"
                )
            )
            report.changed += 1
            report.statuses[name] += 1
        ledger_events.append(con, events)


def from_inbox(inbox: Inbox, ledger: Ledger, actor: str, report: StatusReport, limit: int = 5000) -> None:
    after = ledger.get_cursor(INBOX_CURSOR)
    items = inbox.since("peoplevox", after=after, limit=limit)
    observed = []
    for item in items:
        event = item.load()
        if event.get("event") != "SalesOrderStatusChanges":
            continue
        params = event.get("params", {})
        number, status = params.get(CALLBACK_NUMBER), params.get(CALLBACK_STATUS)
        if number and status:
            observed.append((number, status))
    report.from_callbacks += len(observed)
    apply_statuses(ledger, observed, actor, report)
    if items:
        ledger.set_cursor(INBOX_CURSOR, items[-1].name)


def poll(
    warehouse: Warehouse, ledger: Ledger, actor: str, report: StatusReport, max_orders: int = 500
) -> None:
    with ledger.transaction() as con:
        numbers = ledger_injections.accepted_numbers_before_status(con, FINAL_STATUSES, limit=max_orders)
    observed = []
    for start in range(0, len(numbers), 100):
        chunk = numbers[start : start + 100]
        found = warehouse.find_sales_orders(chunk, with_items=False)
        observed.extend((n, o.status) for n, o in found.items())
        report.polled += len(chunk)
    apply_statuses(ledger, observed, actor, report)
    with ledger.transaction() as con:
        ledger_orders.touch_status_checked(con, numbers)
