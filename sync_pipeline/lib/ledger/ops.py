"""Reads and writes for operations: the open exceptions with what ranks them, re-check facts, closes.

Every function runs inside the caller's one short transaction (`Ledger.transaction()`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import duckdb

from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import stock_orders
from sync_pipeline.lib.ledger.records import OrderEvent, utcnow


@dataclass(frozen=True)
class OpenExceptionRow:
    """An open exception with the order facts that rank it."""

    exception_id: int
    kind: str
    owner: str
    message: str
    shopify_order_id: str | None
    sales_order_number: str | None
    subject: str
    opened_at: datetime
    last_seen_at: datetime
    occurrences: int
    order_name: str | None
    order_state: str | None
    despatch_state: str | None
    total_price: Decimal | None
    currency: str | None
    paid_seen_at: datetime | None
    b2b: bool
    # Re-check facts about the package named by `subject`, when there is one.
    package_state: str | None
    package_order_known: bool | None
    tracking_posted: bool | None


_OPEN = """
SELECT e.exception_id, e.kind, e.owner, e.message, e.shopify_order_id, e.sales_order_number, e.subject,
       e.opened_at, e.last_seen_at, e.occurrences,
       o.order_name, o.state, o.despatch_state, o.total_price, o.currency, o.paid_seen_at,
       coalesce(json_extract_string(o.snapshot, '$.b2b_company') IS NOT NULL, false),
       p.state, p.shopify_order_id IS NOT NULL,
       f.tracking_posted_at IS NOT NULL OR p.state = 'fulfilled_elsewhere'
FROM exceptions e
LEFT JOIN orders o ON o.shopify_order_id = e.shopify_order_id
LEFT JOIN despatch_packages p ON p.package_number = e.subject AND e.subject <> ''
LEFT JOIN shopify_fulfilments f ON f.package_number = p.package_number
WHERE e.status = 'open'
ORDER BY e.exception_id
"""


def open_with_facts(con: duckdb.DuckDBPyConnection) -> list[OpenExceptionRow]:
    rows = con.execute(_OPEN).fetchall()
    return [
        OpenExceptionRow(*row[:16], bool(row[16]), row[17], None if row[17] is None else bool(row[18]),
                         None if row[17] is None else bool(row[19]))
        for row in rows
    ]  # fmt: skip


@dataclass(frozen=True)
class SkuSales:
    units_per_day: float
    average_price: float


def sku_sales(con: duckdb.DuckDBPyConnection, since: datetime, days: int) -> dict[str, SkuSales]:
    """Units per day and average unit price of every SKU ordered since `since` (not cancelled)."""
    return {
        sku: SkuSales(s.units / days, s.average_price)
        for sku, s in stock_orders.sold_since(con, since).items()
    }


def order_skus(con: duckdb.DuckDBPyConnection, order_ids: Sequence[str]) -> dict[str, list[str]]:
    if not order_ids:
        return {}
    placeholders = ", ".join("?" for _ in order_ids)
    rows = con.execute(
        f"SELECT shopify_order_id, sku FROM order_lines WHERE sku IS NOT NULL "
        f"AND shopify_order_id IN ({placeholders}) ORDER BY shopify_order_id, line_id",
        list(order_ids),
    ).fetchall()
    out: dict[str, list[str]] = {}
    for oid, sku in rows:
        out.setdefault(oid, []).append(sku)
    return out


def close(con: duckdb.DuckDBPyConnection, closes: Iterable[tuple[int, str]], actor: str) -> list[int]:
    """Resolve each (exception id, resolution) still open; an order event records each on its order.

    Returns the ids closed now (one already closed by its flow meanwhile is left as it is)."""
    now = utcnow()
    closed: list[int] = []
    events: list[OrderEvent] = []
    for exception_id, resolution in closes:
        row = con.execute(
            "UPDATE exceptions SET status = 'resolved', resolved_at = ?, resolution = ? "
            "WHERE exception_id = ? AND status = 'open' RETURNING kind, shopify_order_id",
            [now, resolution, exception_id],
        ).fetchone()
        if row is None:
            continue
        closed.append(exception_id)
        kind, order_id = row
        if order_id:
            events.append(
                OrderEvent(
                    order_id,
                    "exception_resolved",
                    actor,
                    reason=f"{kind}: {resolution}",
                    detail={"exception_id": exception_id, "kind": kind},
                    at=now,
                )
            )
    if events:
        ledger_events.append(con, events)
    return closed


def get(con: duckdb.DuckDBPyConnection, exception_id: int) -> dict[str, object] | None:
    cur = con.execute(
        "SELECT exception_id, kind, owner, status, message, shopify_order_id, subject, opened_at, "
        "resolved_at, resolution FROM exceptions WHERE exception_id = ?",
        [exception_id],
    )
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))


def resolved_since(con: duckdb.DuckDBPyConnection, since: datetime) -> int:
    row = con.execute(
        "SELECT count(*) FROM exceptions WHERE status = 'resolved' AND resolved_at >= ?", [since]
    ).fetchone()
    return int(row[0]) if row else 0


# Orders a person may put back in the release queue: Peoplevox refused them, or they were too
# old to send automatically. Anything else is either moving already or must not be sent.
RESENDABLE_STATES = ("injection_failed", "too_old")


def requeue(
    con: duckdb.DuckDBPyConnection, order_id: str, actor: str, note: str, paid_statuses: frozenset[str]
) -> tuple[bool, str]:
    """Put one order back in the release queue, due now (compare-and-set on its state)."""
    now = utcnow()
    row = con.execute(
        "SELECT state, financial_status, cancelled_at FROM orders WHERE shopify_order_id = ?", [order_id]
    ).fetchone()
    if row is None:
        return False, "no such order in the ledger"
    state, financial, cancelled = row
    if cancelled is not None:
        return False, "the order is cancelled"
    if (financial or "").upper() not in paid_statuses:
        return False, f"the order is not paid ({financial})"
    if state not in RESENDABLE_STATES:
        return False, (
            f"the order is {state}: only orders Peoplevox refused (injection_failed) or too old to send "
            "automatically (too_old) are re-sent; held orders go by themselves once the cause is fixed"
        )
    updated = con.execute(
        "UPDATE orders SET state = 'awaiting_release', release_due_at = ?, "
        "paid_seen_at = coalesce(paid_seen_at, ?) WHERE shopify_order_id = ? AND state = ? RETURNING 1",
        [now, now, order_id, state],
    ).fetchone()
    if updated is None:
        return False, "the order changed meanwhile; look again"
    ledger_events.append(
        con,
        [OrderEvent(order_id, "resend_requested", actor, reason=note, detail={"from_state": state}, at=now)],
    )
    return True, f"{state} → awaiting_release, due now"
