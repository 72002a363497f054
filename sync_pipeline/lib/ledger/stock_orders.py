"""What the stock flow reads of the orders in the ledger: open lines, sales velocity, order rate.

Read-only queries over the orders and despatches tables (their flows own the writes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import duckdb

from sync_pipeline.lib.ledger.bulk import TEXT, staged
from sync_pipeline.lib.ledger.records import to_naive_utc

# Orders that never hold Shopify stock any more.
CLOSED_STATES = ("cancelled_before_release", "cancelled_in_warehouse")
# Package states whose line quantities are fulfilled in Shopify (lib/flows/despatches/states.py).
FULFILLED_PACKAGE_STATES = ("fulfilled", "fulfilled_elsewhere")


@dataclass(frozen=True)
class OpenLine:
    """A shippable line of an order that is not cancelled, with the units Shopify still commits."""

    shopify_order_id: str
    sku: str
    state: str
    pvx_status: str | None
    site: str | None
    units: int  # ordered (current quantity) less fulfilled in Shopify
    # When the ledger learned that the order's allocation last moved (`pvx_status_learned_at`,
    # stamped only when the status crosses New / Allocated-or-later; else when last checked, later
    # and so safe): a Peoplevox figure read before this may still count the order's units as available.
    status_learned_at: datetime | None = None
    line_id: str | None = None
    ordered: int | None = None  # the line's current quantity (fulfilled units included)


def open_lines(con: duckdb.DuckDBPyConnection) -> list[OpenLine]:
    rows = con.execute(
        f"""
        SELECT o.shopify_order_id, l.line_id, l.sku, o.state, o.pvx_status, o.site,
               l.quantity, coalesce(o.pvx_status_learned_at, o.pvx_status_at)
        FROM orders o JOIN order_lines l ON l.shopify_order_id = o.shopify_order_id
        WHERE o.cancelled_at IS NULL AND o.state NOT IN ({", ".join("?" for _ in CLOSED_STATES)})
          AND coalesce(o.despatch_state, '') <> 'fulfilled'
          AND l.requires_shipping AND NOT l.is_gift_card AND l.quantity > 0
          AND l.sku IS NOT NULL AND l.sku <> ''
        """,
        list(CLOSED_STATES),
    ).fetchall()
    fulfilled = _fulfilled_units(con, {r[0] for r in rows})
    return [
        OpenLine(r[0], r[2], r[3], r[4], r[5], r[6] - fulfilled.get(r[1], 0), r[7], r[1], r[6])
        for r in rows
        if r[6] - fulfilled.get(r[1], 0) > 0
    ]


def held_in_warehouse(con: duckdb.DuckDBPyConnection, order_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """Units of each item code Peoplevox holds for these orders, as the ledger last recorded what it
    accepted (`pvx_injections.items`: set when injected and after each change it applied). Orders
    with no such record are left out."""
    ids = [(i,) for i in order_ids]
    if not ids:
        return {}
    with staged(con, "held_order_ids", {"id": TEXT}, ids):
        rows = con.execute(
            "SELECT shopify_order_id, items FROM pvx_injections WHERE shopify_order_id IN "
            "(SELECT id FROM held_order_ids) AND state = 'accepted' AND items IS NOT NULL"
        ).fetchall()
    held: dict[str, dict[str, int]] = {}
    for order_id, raw in rows:
        codes = held.setdefault(order_id, {})
        for item in json.loads(raw) if isinstance(raw, str) else raw:
            code, quantity = item.get("ItemCode"), item.get("QuantityOrdered")
            if code and quantity is not None:
                codes[code] = codes.get(code, 0) + int(quantity)
    return held


def skus_of(con: duckdb.DuckDBPyConnection, order_ids: Iterable[str]) -> set[str]:
    """The SKUs on the shippable lines of these orders."""
    ids = [(i,) for i in order_ids]
    if not ids:
        return set()
    with staged(con, "hinted_order_ids", {"id": TEXT}, ids):
        rows = con.execute(
            "SELECT DISTINCT sku FROM order_lines WHERE shopify_order_id IN (SELECT id FROM hinted_order_ids) "
            "AND requires_shipping AND NOT is_gift_card AND sku IS NOT NULL AND sku <> ''"
        ).fetchall()
    return {r[0] for r in rows}


def _fulfilled_units(con: duckdb.DuckDBPyConnection, order_ids: Iterable[str]) -> dict[str, int]:
    """Units of each line item already fulfilled in Shopify, from the despatches flow's packages."""
    ids = [(i,) for i in order_ids]
    if not ids:
        return {}
    with staged(con, "open_order_ids", {"id": TEXT}, ids):
        rows = con.execute(
            f"SELECT line_quantities FROM despatch_packages WHERE shopify_order_id IN "
            f"(SELECT id FROM open_order_ids) AND state IN ({', '.join('?' for _ in FULFILLED_PACKAGE_STATES)}) "
            "AND line_quantities IS NOT NULL",
            list(FULFILLED_PACKAGE_STATES),
        ).fetchall()
    units: dict[str, int] = {}
    for (raw,) in rows:
        for line_id, quantity in (json.loads(raw) if isinstance(raw, str) else raw).items():
            units[line_id] = units.get(line_id, 0) + int(quantity)
    return units


@dataclass(frozen=True)
class SkuSold:
    units: int
    average_price: float  # of the SKU's order lines


def sold_since(con: duckdb.DuckDBPyConnection, since: datetime) -> dict[str, SkuSold]:
    """Units and average unit price per SKU on orders created since `since` and not cancelled: the
    one sales-velocity query (the stock flow's demand and the ops ranking both derive from it).
    An order Shopify has not dated yet counts from when the ledger first saw it."""
    rows = con.execute(
        "SELECT l.sku, sum(l.quantity), avg(l.unit_price) FROM orders o "
        "JOIN order_lines l ON l.shopify_order_id = o.shopify_order_id "
        "WHERE coalesce(o.shopify_created_at, o.first_seen_at) >= ? AND o.cancelled_at IS NULL "
        "AND l.sku IS NOT NULL AND l.quantity > 0 GROUP BY l.sku",
        [to_naive_utc(since)],
    ).fetchall()
    return {r[0]: SkuSold(int(r[1]), float(r[2] or 0)) for r in rows}


def orders_since(con: duckdb.DuckDBPyConnection, since: datetime) -> int:
    """Orders placed since `since` (peak mode's order rate)."""
    row = con.execute(
        "SELECT count(*) FROM orders WHERE coalesce(shopify_created_at, first_seen_at) >= ?",
        [to_naive_utc(since)],
    ).fetchone()
    return int(row[0]) if row else 0
