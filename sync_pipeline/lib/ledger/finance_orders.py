"""Shopify money per order, as read by the finance flow: totals, lines, transactions, refunds, returns.

An order read again replaces everything this module holds for it (its children are deleted and
written afresh), so a refund or capture made since the last read is simply there the next time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal

import duckdb

from sync_pipeline.lib.ledger.bulk import TEXT, staged
from sync_pipeline.lib.ledger.records import gid_number, to_naive_utc, utcnow


@dataclass(frozen=True)
class Amount:
    """One money figure in the shop's currency and in the customer's (presentment) currency."""

    shop: Decimal
    presentment: Decimal


@dataclass(frozen=True)
class FinanceOrderRow:
    shopify_order_id: str
    order_name: str
    order_date: date
    created_at: datetime
    cancelled_at: datetime | None
    paid_at: datetime | None
    financial_status: str | None
    return_status: str | None
    customer_name: str | None
    note: str | None
    shop_currency: str
    currency: str
    taxes_included: bool
    subtotal: Amount
    discounts: Amount
    shipping: Amount
    tax: Amount
    total_price: Amount
    current_total_price: Amount
    current_tax: Amount
    received: Amount
    refunded: Amount
    refunded_shipping: Amount
    net_payment: Amount
    refund_discrepancy: Amount  # refundDiscrepancySet: suggested less paid back (goodwill: negative)
    outstanding: Amount
    capturable: Amount
    shopify_updated_at: datetime


@dataclass(frozen=True)
class FinanceLineRow:
    line_item_id: str
    sku: str | None
    quantity: int
    current_quantity: int
    requires_shipping: bool
    unit_price: Amount


@dataclass(frozen=True)
class TransactionRow:
    transaction_id: str
    kind: str
    status: str
    gateway: str | None
    amount: Amount
    parent_id: str | None
    processed_at: datetime | None
    authorization_expires_at: datetime | None


@dataclass(frozen=True)
class RefundLineRow:
    line_item_id: str
    restock_type: str
    quantity: int
    subtotal: Amount
    tax: Amount


@dataclass(frozen=True)
class RefundRow:
    refund_id: str
    created_at: datetime | None
    note: str | None
    total_refunded: Amount
    return_id: str | None
    lines: tuple[RefundLineRow, ...] = ()


@dataclass(frozen=True)
class ShopifyReturnRow:
    return_id: str
    name: str | None
    status: str
    total_quantity: int
    created_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class FinanceOrderSet:
    """Everything finance reads of one order."""

    order: FinanceOrderRow
    lines: tuple[FinanceLineRow, ...] = ()
    transactions: tuple[TransactionRow, ...] = ()
    refunds: tuple[RefundRow, ...] = ()
    returns: tuple[ShopifyReturnRow, ...] = ()
    # Why Shopify's answer for this order is not whole (too big to read under the query cost cap):
    # such a set is never written; the finance flow opens `finance_order_unreadable` instead.
    unreadable: str | None = None


_MONEY = [f.name for f in fields(FinanceOrderRow) if f.type == "Amount"]
_PLAIN = [f.name for f in fields(FinanceOrderRow) if f.type != "Amount" and f.name != "shopify_updated_at"]
_ORDER_COLUMNS = ["order_key", *_PLAIN, *_MONEY, *(f"p_{m}" for m in _MONEY), "shopify_updated_at", "read_at"]
_CHILD_TABLES = ("finance_order_lines", "finance_transactions", "finance_refunds", "finance_refund_lines",
                 "finance_returns")  # fmt: skip


def _order_values(o: FinanceOrderRow, now: datetime) -> list[object]:
    plain = [to_naive_utc(v) if isinstance(v, datetime) else v for v in (getattr(o, n) for n in _PLAIN)]
    shop = [getattr(o, m).shop for m in _MONEY]
    presentment = [getattr(o, m).presentment for m in _MONEY]
    return [
        gid_number(o.shopify_order_id),
        *plain,
        *shop,
        *presentment,
        to_naive_utc(o.shopify_updated_at),
        now,
    ]


def _newest_reads(con: duckdb.DuckDBPyConnection, orders: Sequence[FinanceOrderSet]) -> list[FinanceOrderSet]:
    """Of these reads, each order's newest (Shopify's `updatedAt`; the later read on a tie), and
    only where the ledger does not hold a newer one already.

    A read pages by `updatedAt`, so an order changed while it pages comes round again on a later
    page, in the same chunk; and a backfill paging a month for minutes hands over orders read
    before a refund that an incremental run has since read. Older reads never win."""
    latest: dict[int, FinanceOrderSet] = {}
    for s in orders:
        key = gid_number(s.order.shopify_order_id)
        seen = latest.get(key)
        if seen is None or s.order.shopify_updated_at >= seen.order.shopify_updated_at:
            latest[key] = s
    con.execute("CREATE OR REPLACE TEMP TABLE finance_read_keys (k BIGINT, updated_at TIMESTAMP)")
    con.executemany(
        "INSERT INTO finance_read_keys VALUES (?, ?)",
        [[k, to_naive_utc(s.order.shopify_updated_at)] for k, s in latest.items()],
    )
    held = {
        k
        for (k,) in con.execute(
            "SELECT r.k FROM finance_read_keys r JOIN finance_orders f ON f.order_key = r.k "
            "WHERE f.shopify_updated_at > r.updated_at"
        ).fetchall()
    }
    if held:
        con.execute("DELETE FROM finance_read_keys WHERE k IN (SELECT unnest($keys))", {"keys": sorted(held)})
    return [s for k, s in latest.items() if k not in held]


def replace_orders(con: duckdb.DuckDBPyConnection, orders: Sequence[FinanceOrderSet]) -> int:
    """Write these orders' money and children, replacing whatever was held for them (unless the
    ledger holds a newer read of an order: `_newest_reads`). Returns how many were written."""
    if not orders:
        return 0
    now = utcnow()
    orders = _newest_reads(con, orders)
    if not orders:
        return 0
    for table in ("finance_orders", *_CHILD_TABLES):
        con.execute(f"DELETE FROM {table} WHERE order_key IN (SELECT k FROM finance_read_keys)")
    _insert(con, "finance_orders", [_order_values(s.order, now) for s in orders], _ORDER_COLUMNS)
    lines, transactions, refunds, refund_lines, returns = [], [], [], [], []
    for s in orders:
        key, day = gid_number(s.order.shopify_order_id), s.order.order_date
        ships = {gid_number(li.line_item_id): li.requires_shipping for li in s.lines}
        lines += [[key, day, gid_number(li.line_item_id), li.sku, li.quantity, li.current_quantity,
                   li.requires_shipping, li.unit_price.shop, li.unit_price.presentment] for li in s.lines]  # fmt: skip
        transactions += [
            [key, day, t.transaction_id, t.kind, t.status, t.gateway, t.amount.shop, t.amount.presentment,
             t.parent_id, to_naive_utc(t.processed_at), to_naive_utc(t.authorization_expires_at)]
            for t in s.transactions
        ]  # fmt: skip
        for r in s.refunds:
            refunds.append([key, day, r.refund_id, to_naive_utc(r.created_at), r.note, r.total_refunded.shop,
                            r.total_refunded.presentment, r.return_id])  # fmt: skip
            refund_lines += _refund_lines(r, key, day, ships)
        returns += [[key, day, x.return_id, x.name, x.status, x.total_quantity, to_naive_utc(x.created_at),
                     to_naive_utc(x.closed_at)] for x in s.returns]  # fmt: skip
    for table, rows in (
        ("finance_order_lines", lines),
        ("finance_transactions", transactions),
        ("finance_refunds", refunds),
        ("finance_refund_lines", refund_lines),
        ("finance_returns", returns),
    ):
        _insert(con, table, rows)
    return len(orders)


def _text(value: object) -> str | None:
    """A value as DuckDB reads it back into its column's own type: amounts in plain digits (exact)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def _insert(
    con: duckdb.DuckDBPyConnection, table: str, rows: list[list[object]], columns: Sequence[str] | None = None
) -> None:
    """`rows` into `table` in one statement (`bulk.staged`; `executemany` sent them one by one and
    held the ledger 7-17 s for 500 orders at a peak), every value staged as text and cast to the
    table's own column type, so amounts stay exact. `columns` names them, else they are in order."""
    if not rows:
        return
    staged_as = [f"c{i}" for i in range(len(rows[0]))]
    with staged(
        con, f"{table}_in", dict.fromkeys(staged_as, TEXT), [[_text(v) for v in r] for r in rows]
    ) as view:
        into = f"{table} ({', '.join(columns)})" if columns else table
        con.execute(f"INSERT INTO {into} SELECT {', '.join(staged_as)} FROM {view}")


def _refund_lines(refund: RefundRow, key: int, day: date, ships: dict[int, bool]) -> list[list[object]]:
    """One row per (line, restock type); Shopify may list a line twice in one refund (two locations)."""
    merged: dict[tuple[int, str], list[object]] = {}
    for li in refund.lines:
        line = gid_number(li.line_item_id)
        row = merged.get((line, li.restock_type))
        if row is None:
            merged[(line, li.restock_type)] = [
                key, day, refund.refund_id, line, ships.get(line, True), li.restock_type, li.quantity,
                li.subtotal.shop, li.tax.shop, li.subtotal.presentment, li.tax.presentment,
            ]  # fmt: skip
        else:
            for index, add in ((6, li.quantity), (7, li.subtotal.shop), (8, li.tax.shop),
                               (9, li.subtotal.presentment), (10, li.tax.presentment)):  # fmt: skip
                row[index] = row[index] + add  # type: ignore[operator]
    return list(merged.values())


def order_ids_between(con: duckdb.DuckDBPyConnection, start: date, end: date) -> list[str]:
    """Orders placed on [start, end) that finance has read."""
    rows = con.execute(
        "SELECT shopify_order_id FROM finance_orders WHERE order_date >= ? AND order_date < ? ORDER BY order_key",
        [start, end],
    ).fetchall()
    return [r[0] for r in rows]


@dataclass(frozen=True)
class ShopifyTotals:
    """Shopify's own totals of one day and currency, straight from what was read."""

    order_date: date
    currency: str
    orders: int
    total_price: Decimal
    p_total_price: Decimal
    refunded: Decimal
    p_refunded: Decimal


def shopify_totals(con: duckdb.DuckDBPyConnection, start: date, end: date) -> list[ShopifyTotals]:
    rows = con.execute(
        "SELECT order_date, currency, count(*), sum(total_price), sum(p_total_price), sum(refunded), "
        "sum(p_refunded) FROM finance_orders WHERE order_date >= ? AND order_date < ? "
        "GROUP BY order_date, currency ORDER BY order_date, currency",
        [start, end],
    ).fetchall()
    return [ShopifyTotals(*r) for r in rows]
