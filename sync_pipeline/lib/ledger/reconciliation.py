"""The finance reconciliation in SQL: one row per order and one status, per range of order dates.

The rules are `lib/domain/reconciliation.py` (the specification, property-tested); this is the same
thing set-wise so a month of a million orders takes seconds. A property test holds the two to the
same status for every order of any generated ledger.

The result is a temporary table, `finance_reconciled`, for the rest of the transaction: the
exports are written from it (`finance_exports.py`) and they are the reconciliation's record.
Finance and BI read those files; nothing reads a reconciliation from the live ledger.

Money is never recomputed where Shopify states it: totals, tax, discounts, received, refunded,
net payment, refund discrepancy, outstanding and capturable are copied from `finance_orders`. The
only sums made here are the despatched value (units shipped × the order's own unit price) and unit
counts; "paid" compares Shopify's figures (`unpaid` in the rules) without storing a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb

from sync_pipeline.lib.ledger.records import to_naive_utc

# Despatch package states that account for Shopify line units (lib/flows/despatches/states.py).
SETTLED_PACKAGES = ("fulfilled", "fulfilled_elsewhere", "pooled")

_RECONCILE = """
WITH scope AS (
    SELECT * FROM finance_orders WHERE order_date >= $start AND order_date < $end
),
lines AS (
    SELECT order_key, line_key, sku, quantity, current_quantity, unit_price, p_unit_price
    FROM finance_order_lines WHERE order_date >= $start AND order_date < $end AND requires_shipping
),
line_units AS (
    SELECT order_key, sum(quantity) AS units_ordered, sum(current_quantity) AS units_current
    FROM lines GROUP BY order_key
),
refund_units AS (
    SELECT order_key,
           sum(quantity) AS units_refunded,
           sum(quantity) FILTER (WHERE restock_type <> 'CANCEL') AS units_refunded_shipped,
           sum(quantity) FILTER (WHERE restock_type = 'RETURN') AS units_refunded_for_return
    FROM finance_refund_lines
    WHERE order_date >= $start AND order_date < $end AND requires_shipping
    GROUP BY order_key
),
packages AS (
    SELECT order_key, line_key, item_code, units, despatched_at
    FROM finance_package_units WHERE order_date >= $start AND order_date < $end
),
-- Settled packages are valued at their line's price; units not settled yet at the price of the
-- line with their SKU (one price per SKU), else nothing.
valued AS (
    SELECT p.order_key, p.units, p.despatched_at,
           p.units * coalesce(l.unit_price, 0) AS value, p.units * coalesce(l.p_unit_price, 0) AS p_value
    FROM packages p LEFT JOIN lines l ON l.order_key = p.order_key AND l.line_key = p.line_key
    WHERE p.line_key IS NOT NULL
    UNION ALL
    SELECT p.order_key, p.units, p.despatched_at,
           p.units * coalesce(s.unit_price, 0), p.units * coalesce(s.p_unit_price, 0)
    FROM packages p LEFT JOIN (
        -- Only the orders that have such units: grouping every line of the range cost seconds.
        SELECT order_key, sku, min(unit_price) AS unit_price, min(p_unit_price) AS p_unit_price
        FROM lines
        WHERE sku IS NOT NULL AND order_key IN (SELECT order_key FROM packages WHERE line_key IS NULL)
        GROUP BY order_key, sku
    ) s ON s.order_key = p.order_key AND s.sku = p.item_code
    WHERE p.line_key IS NULL
),
despatched AS (
    SELECT order_key, sum(units) AS units_despatched, sum(value) AS despatched_value,
           sum(p_value) AS p_despatched_value, max(despatched_at) AS last_despatched_at
    FROM valued GROUP BY order_key
),
returned AS (
    -- Rows without a line are items no line of the order is made of (counted apart, migration 0012).
    SELECT order_key, sum(units) FILTER (WHERE line_key IS NOT NULL) AS units_returned,
           sum(reusable_units) FILTER (WHERE line_key IS NOT NULL) AS units_returned_reusable,
           sum(units) FILTER (WHERE line_key IS NULL) AS units_returned_unmatched
    FROM pvx_return_units WHERE order_date >= $start AND order_date < $end GROUP BY order_key
),
figures AS (
    SELECT s.*,
           s.cancelled_at IS NOT NULL AS cancelled,
           coalesce(lu.units_ordered, 0)::INTEGER AS units_ordered,
           coalesce(lu.units_current, 0)::INTEGER AS units_current,
           coalesce(ru.units_refunded, 0)::INTEGER AS units_refunded,
           coalesce(ru.units_refunded_shipped, 0)::INTEGER AS units_refunded_shipped,
           coalesce(ru.units_refunded_for_return, 0)::INTEGER AS units_refunded_for_return,
           coalesce(d.units_despatched, 0)::INTEGER AS units_despatched,
           coalesce(d.despatched_value, 0)::DECIMAL(18, 3) AS despatched_value,
           coalesce(d.p_despatched_value, 0)::DECIMAL(18, 3) AS p_despatched_value,
           d.last_despatched_at,
           coalesce(rt.units_returned, 0)::INTEGER AS units_returned,
           coalesce(rt.units_returned_reusable, 0)::INTEGER AS units_returned_reusable,
           coalesce(rt.units_returned_unmatched, 0)::INTEGER AS units_returned_unmatched
    FROM scope s
    LEFT JOIN line_units lu USING (order_key)
    LEFT JOIN refund_units ru USING (order_key)
    LEFT JOIN despatched d USING (order_key)
    LEFT JOIN returned rt USING (order_key)
),
expected AS (
    SELECT *,
           (units_current + units_refunded_for_return
            + least(units_refunded_shipped - units_refunded_for_return,
                    greatest(0, units_despatched - units_current - units_refunded_for_return)))::INTEGER
               AS units_to_despatch
    FROM figures
)
SELECT order_date, order_key, shopify_order_id, order_name, customer_name, note, financial_status, return_status,
       cancelled, shop_currency, currency,
       CASE
           WHEN cancelled AND units_despatched > units_returned THEN 'cancelled_but_despatched'
           WHEN cancelled AND net_payment > 0 THEN 'paid_not_despatched'
           WHEN cancelled THEN 'matched'
           WHEN units_despatched > 0 AND capturable > 0 THEN 'fulfilled_not_captured'
           -- unpaid (lib/domain/reconciliation.py): current total less net payment, goodwill kept
           WHEN units_despatched > 0 AND current_total_price - (net_payment - refund_discrepancy) > 0
               THEN 'despatched_not_paid'
           WHEN units_despatched > units_to_despatch OR units_returned > units_despatched
                OR units_returned_unmatched > 0 THEN 'quantity_mismatch'
           WHEN units_returned > units_refunded_shipped THEN 'returned_not_refunded'
           WHEN units_refunded_for_return > units_returned THEN 'refunded_not_returned'
           WHEN units_despatched < units_to_despatch AND paid_at IS NOT NULL
                AND paid_at + to_microseconds($sla_us) <= $as_of THEN 'paid_not_despatched'
           WHEN units_despatched < units_to_despatch THEN 'awaiting_despatch'
           ELSE 'matched'
       END AS status,
       subtotal, discounts, shipping, tax, total_price, current_total_price, received, refunded, net_payment,
       capturable, outstanding, despatched_value,
       p_subtotal, p_discounts, p_shipping, p_tax, p_total_price, p_current_total_price, p_received, p_refunded,
       p_net_payment, p_capturable, p_outstanding, p_despatched_value,
       units_ordered, (units_ordered - units_to_despatch)::INTEGER AS units_cancelled, units_refunded,
       units_to_despatch, units_despatched, units_returned, units_returned_reusable, units_returned_unmatched,
       units_refunded_for_return, paid_at, last_despatched_at, $as_of AS as_of
FROM expected
"""


RESULT = "finance_reconciled"


@dataclass(frozen=True)
class ReconcileCounts:
    orders: int
    by_status: dict[str, int]


def reconcile(
    con: duckdb.DuckDBPyConnection, start: date, end: date, as_of: datetime, sla: timedelta
) -> ReconcileCounts:
    """Reconcile the orders placed on [start, end) (UTC days) as of `as_of` into the temporary table
    `finance_reconciled`, in order date then order (creation) order."""
    params = {
        "start": start,
        "end": end,
        "as_of": to_naive_utc(as_of),
        "sla_us": int(sla.total_seconds() * 1e6),
    }
    con.execute(f"CREATE OR REPLACE TEMP TABLE {RESULT} AS {_RECONCILE}", params)
    rows = con.execute(f"SELECT status, count(*) FROM {RESULT} GROUP BY status ORDER BY status").fetchall()
    by_status = {str(s): int(n) for s, n in rows}
    return ReconcileCounts(sum(by_status.values()), by_status)


@dataclass(frozen=True)
class Gap:
    """One order that does not reconcile, for metadata tables (largest value first)."""

    order_name: str
    order_date: date
    status: str
    currency: str
    total_price: Decimal
    received: Decimal
    refunded: Decimal
    despatched_value: Decimal
    units_to_despatch: int
    units_despatched: int
    units_returned: int


def largest_gaps(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[Gap]:
    """The orders just reconciled that are not `matched`, largest (shop-currency) value first."""
    rows = con.execute(
        "SELECT order_name, order_date, status, currency, p_total_price, p_received, p_refunded, "
        f"p_despatched_value, units_to_despatch, units_despatched, units_returned FROM {RESULT} "
        "WHERE status <> 'matched' ORDER BY total_price DESC, order_key LIMIT ?",
        [limit],
    ).fetchall()
    return [Gap(*r) for r in rows]
