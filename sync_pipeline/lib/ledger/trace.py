"""Everything the ledger knows about one order, for `sync-pipeline trace` (reads only)."""

from __future__ import annotations

import re
from typing import Any

import duckdb

from sync_pipeline.lib.ledger.records import gid_number

_GID = re.compile(r"^gid://shopify/Order/\d+$")


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    columns = [d[0] for d in cur.description]
    return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


def find_order_ids(con: duckdb.DuckDBPyConnection, reference: str) -> list[str]:
    """Order ids matching `#1001`, `1001` (Shopify's numeric id or the order number), a gid, or a
    Peoplevox sales order number (`SHP-…`)."""
    ref = reference.strip()
    if _GID.match(ref):
        sql, params = "SELECT shopify_order_id FROM orders WHERE shopify_order_id = ?", [ref]
    elif ref.startswith("#"):
        sql, params = "SELECT shopify_order_id FROM orders WHERE order_name = ?", [ref]
    elif ref.isdigit():
        sql = "SELECT shopify_order_id FROM orders WHERE legacy_id = ? OR order_name = ?"
        params = [int(ref), f"#{ref}"]
    else:
        sql = (
            "SELECT shopify_order_id FROM orders WHERE sales_order_number = ? "
            "UNION SELECT shopify_order_id FROM pvx_injections WHERE sales_order_number = ? "
            "UNION SELECT shopify_order_id FROM despatch_packages WHERE sales_order_number = ? "
            "AND shopify_order_id IS NOT NULL"
        )
        params = [ref, ref, ref]
    return sorted({r[0] for r in con.execute(sql, params).fetchall()})


def order_record(con: duckdb.DuckDBPyConnection, order_id: str) -> dict[str, Any]:
    """The order row, its lines, audit events, injections, packages, fulfilments, exceptions, and
    what the finance flow read: Shopify refunds and returns, and returns the warehouse processed."""
    [order] = _rows(
        con,
        "SELECT shopify_order_id, legacy_id, order_name, state, despatch_state, financial_status, "
        "fulfillment_status, cancelled_at, shopify_created_at, paid_seen_at, release_due_at, sales_order_number, "
        "site, channel, total_price, currency, pvx_status, pvx_status_at, change_pending, first_seen_at, "
        "last_seen_at, json_extract_string(snapshot, '$.b2b_company') AS b2b_company "
        "FROM orders WHERE shopify_order_id = ?",
        [order_id],
    )
    return {
        "order": order,
        "lines": _rows(
            con,
            "SELECT line_id, sku, quantity, unit_price, requires_shipping, bundle_group FROM order_lines "
            "WHERE shopify_order_id = ? ORDER BY line_id",
            [order_id],
        ),
        "events": _rows(
            con,
            "SELECT occurred_at, kind, actor, reason, detail FROM order_events WHERE shopify_order_id = ? "
            "ORDER BY occurred_at, event_id",
            [order_id],
        ),
        "injections": _rows(
            con,
            "SELECT sales_order_number, state, attempts, first_attempt_at, last_attempt_at, confirmed_at, "
            "last_error, run_id FROM pvx_injections WHERE shopify_order_id = ? ORDER BY first_attempt_at",
            [order_id],
        ),
        "packages": _rows(
            con,
            "SELECT package_number, despatch_number, despatched_at, carrier, service, tracking_number, "
            "tracking_seen_at, items, state, state_reason, first_seen_at FROM despatch_packages "
            "WHERE shopify_order_id = ? ORDER BY despatched_at, package_number",
            [order_id],
        ),
        "fulfilments": _rows(
            con,
            "SELECT package_number, state, fulfillment_name, tracking_number, tracking_company, "
            "first_attempt_at, created_at, tracking_posted_at, last_error FROM shopify_fulfilments "
            "WHERE shopify_order_id = ? ORDER BY first_attempt_at",
            [order_id],
        ),
        "exceptions": _rows(
            con,
            "SELECT exception_id, kind, owner, status, message, subject, opened_at, last_seen_at, occurrences, "
            "resolved_at, resolution FROM exceptions WHERE shopify_order_id = ? ORDER BY opened_at",
            [order_id],
        ),
        **finance_record(con, order_id),
    }


# A refund's lines with the SKU of the line each refunds (the finance flow's copy of the order).
_REFUNDS = """
SELECT r.refund_id, r.created_at, r.note, r.total_refunded, f.shop_currency, r.p_total_refunded,
       f.currency, r.return_id, f.read_at,
       list({'sku': l.sku, 'quantity': rl.quantity, 'restock_type': rl.restock_type} ORDER BY rl.line_key)
           FILTER (WHERE rl.line_key IS NOT NULL) AS lines
FROM finance_refunds r
JOIN finance_orders f ON f.order_key = r.order_key
LEFT JOIN finance_refund_lines rl ON rl.order_key = r.order_key AND rl.refund_id = r.refund_id
LEFT JOIN finance_order_lines l ON l.order_key = rl.order_key AND l.line_key = rl.line_key
WHERE r.order_key = ?
GROUP BY ALL
ORDER BY r.created_at, r.refund_id
"""


def finance_record(con: duckdb.DuckDBPyConnection, order_id: str) -> dict[str, list[dict[str, Any]]]:
    """Refunds (with their lines), Shopify returns, and the warehouse's processed returns of one
    order, as the finance flow last read them (empty before its first run)."""
    key = gid_number(order_id)
    return {
        "refunds": _rows(con, _REFUNDS, [key]),
        "returns": _rows(
            con,
            "SELECT r.return_id, r.name, r.status, r.total_quantity, r.created_at, r.closed_at, f.read_at "
            "FROM finance_returns r JOIN finance_orders f ON f.order_key = r.order_key "
            "WHERE r.order_key = ? ORDER BY r.created_at, r.return_id",
            [key],
        ),
        "warehouse_returns": _rows(
            con,
            "SELECT return_code, item_code, quantity, reason, condition, reusable, returned_at, site, "
            "first_seen_at FROM pvx_returns WHERE shopify_order_id = ? ORDER BY returned_at, return_code, item_code, condition",
            [order_id],
        ),
    }
