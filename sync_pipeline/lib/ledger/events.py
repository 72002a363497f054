"""The append-only `order_events` audit log. Rows are inserted, never updated or deleted."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import duckdb

from sync_pipeline.lib.ledger.bulk import TEXT, TIME, staged
from sync_pipeline.lib.ledger.records import OrderEvent, to_naive_utc


def append(con: duckdb.DuckDBPyConnection, events: Iterable[OrderEvent]) -> int:
    rows = [
        [
            e.shopify_order_id,
            to_naive_utc(e.at),
            e.kind,
            e.actor,
            e.reason,
            None if e.detail is None else json.dumps(e.detail, default=str, ensure_ascii=False),
        ]
        for e in events
    ]
    if rows:
        # In bulk (one statement, rows in order): row by row, a release wave's events held the lock for seconds.
        with staged(con, "events_in", _EVENT_TYPES, rows):
            con.execute(
                "INSERT INTO order_events (shopify_order_id, occurred_at, kind, actor, reason, detail) "
                "SELECT shopify_order_id, occurred_at, kind, actor, reason, detail FROM events_in"
            )
    return len(rows)


_EVENT_TYPES = {
    "shopify_order_id": TEXT,
    "occurred_at": TIME,
    "kind": TEXT,
    "actor": TEXT,
    "reason": TEXT,
    "detail": TEXT,
}


def for_order(con: duckdb.DuckDBPyConnection, shopify_order_id: str) -> list[dict[str, Any]]:
    cur = con.execute(
        "SELECT event_id, occurred_at, kind, actor, reason, detail FROM order_events "
        "WHERE shopify_order_id = ? ORDER BY event_id",
        [shopify_order_id],
    )
    columns = [d[0] for d in cur.description]
    return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


def count(con: duckdb.DuckDBPyConnection, kind: str | None = None) -> int:
    if kind is None:
        row = con.execute("SELECT count(*) FROM order_events").fetchone()
    else:
        row = con.execute("SELECT count(*) FROM order_events WHERE kind = ?", [kind]).fetchone()
    return int(row[0]) if row else 0


def details_since(
    con: duckdb.DuckDBPyConnection, kind: str, order_ids: Sequence[str], since: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """(order id, detail) of every `kind` event on these orders after `since`, oldest first: one
    query however many orders (an event without detail gives {})."""
    if not order_ids:
        return []
    rows = con.execute(
        "SELECT shopify_order_id, detail FROM order_events WHERE kind = ? AND occurred_at > ? "
        "AND shopify_order_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY event_id",
        [kind, to_naive_utc(since), list(order_ids)],
    ).fetchall()
    return [(oid, json.loads(detail) if detail else {}) for oid, detail in rows]
