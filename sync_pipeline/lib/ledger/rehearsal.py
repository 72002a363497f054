"""Read-only queries `sync-pipeline rehearse` makes: timings of each flow, effects not yet settled.

Times are naive UTC, as the ledger stores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from sync_pipeline.lib.ledger import fulfilments, injections, stock_pushes
from sync_pipeline.lib.ledger.stock_pushes import SENDING


@dataclass(frozen=True)
class OrderTiming:
    order_name: str | None
    sales_order_number: str | None
    paid_seen_at: datetime | None
    first_seen_at: datetime | None
    release_due_at: datetime | None
    first_attempt_at: datetime | None
    confirmed_at: datetime | None  # None unless the injection was accepted


def order_timings(con: duckdb.DuckDBPyConnection) -> list[OrderTiming]:
    rows = con.execute(
        """
        SELECT o.order_name, o.sales_order_number, o.paid_seen_at, o.first_seen_at, o.release_due_at,
               i.first_attempt_at, CASE WHEN i.state = 'accepted' THEN i.confirmed_at END
        FROM orders o LEFT JOIN pvx_injections i ON i.shopify_order_id = o.shopify_order_id
        """
    ).fetchall()
    return [OrderTiming(*r) for r in rows]


@dataclass(frozen=True)
class Fulfilled:
    """A package Shopify has a fulfilment for: its own, or (a `pooled` bundle part) the one carrying it."""

    at: datetime  # when the ledger recorded that fulfilment created
    carried_by: str | None = None  # None: its own fulfilment; else the package whose fulfilment carries it


def packages_fulfilled(con: duckdb.DuckDBPyConnection) -> dict[str, Fulfilled]:
    """Package number → the fulfilment that stands for it in Shopify: its own once created, or for a
    `pooled` package (bundle parts whose tracking rides on the fulfilment of the package completing
    the bundle: `despatch_packages.carried_by`, migration 0017) its carrier's once that is created,
    at the carrier's time. A pooled package whose carrier has no created fulfilment is absent. (Until
    2026-12-01 only own fulfilments counted, so a rehearsal with bundles never drained and left
    pooled parcels out of the despatch latency.)"""
    rows = con.execute(
        "SELECT package_number, created_at, NULL FROM shopify_fulfilments WHERE state = 'created' "
        "UNION ALL "
        "SELECT q.package_number, f.created_at, q.carried_by FROM despatch_packages q "
        "JOIN shopify_fulfilments f ON f.package_number = q.carried_by "
        "WHERE q.state = 'pooled' AND f.state = 'created' AND NOT EXISTS ("
        " SELECT 1 FROM shopify_fulfilments o WHERE o.package_number = q.package_number AND o.state = 'created')"
    ).fetchall()
    return {r[0]: Fulfilled(r[1], r[2]) for r in rows}


def unsettled_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Write-ahead rows still `sending`, per effect: outcomes the product has not settled yet."""
    return {
        "injections": injections.state_counts(con).get(SENDING, 0),
        "fulfilments": fulfilments.state_counts(con).get(SENDING, 0),
        "stock_pushes": stock_pushes.state_counts(con).get(SENDING, 0),
    }


def stock_push_requests(con: duckdb.DuckDBPyConnection) -> dict[str, bool]:
    """Each stock push request's idempotency key → whether the ledger records it applied."""
    rows = con.execute(
        "SELECT idempotency_key, bool_or(state = 'applied') FROM stock_pushes GROUP BY idempotency_key"
    ).fetchall()
    return {r[0]: bool(r[1]) for r in rows}


def applied_stock_pushes(
    con: duckdb.DuckDBPyConnection, skus: list[str]
) -> list[tuple[str, datetime, int, str | None]]:
    """(sku, sent at, quantity, run id) of every push of `skus` the ledger records applied, oldest first."""
    return [
        (r[0], r[1], int(r[2]), r[3])
        for r in con.execute(
            "SELECT sku, sent_at, to_quantity, run_id FROM stock_pushes "
            "WHERE state = 'applied' AND list_contains(?, sku) ORDER BY sent_at",
            [skus],
        ).fetchall()
    ]
