"""Order versions our own Shopify writes produced (migration 0008): the orders ingest need not read
in full an order only our fulfilment changed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import duckdb

from sync_pipeline.lib.ledger.bulk import TEXT, TIME, staged
from sync_pipeline.lib.ledger.records import to_naive_utc, utcnow


def record(
    con: duckdb.DuckDBPyConnection, writes: Sequence[tuple[str, datetime, datetime]], settle: timedelta
) -> int:
    """Record `(order id, version before our write, version after it)` for each write whose
    before-version the ledger held in full: its snapshot at that version, read at least `settle`
    after it (no second change can share its second), or our own previous write. Any other write
    is forgotten, so the ingest reads that order in full. Returns how many orders were recorded."""
    rows = [(oid, to_naive_utc(before), to_naive_utc(after)) for oid, before, after in writes]
    if not rows:
        return 0
    # Staged in bulk, one statement each way: row by row this was a tenth of a fulfil wave's
    # ledger time (py-spy, despatch_fulfil_cost.py, session 8).
    with staged(con, "own_writes_in", {"id": TEXT, "before": TIME, "after": TIME}, rows):
        trusted = con.execute(
            """
            SELECT w.id, max(w.after) FROM own_writes_in w
            JOIN orders o ON o.shopify_order_id = w.id
            LEFT JOIN shopify_own_versions v ON v.shopify_order_id = w.id
            WHERE (o.shopify_updated_at = w.before AND o.snapshot_read_at >= w.before + to_microseconds(?))
               OR v.updated_at = w.before
            GROUP BY w.id
            """,
            [int(settle.total_seconds() * 1_000_000)],
        ).fetchall()
    untrusted = sorted({r[0] for r in rows} - {t[0] for t in trusted})
    if untrusted:
        con.execute("DELETE FROM shopify_own_versions WHERE list_contains(?, shopify_order_id)", [untrusted])
    if trusted:
        with staged(con, "own_versions_in", {"id": TEXT, "after": TIME}, trusted):
            con.execute(
                "INSERT INTO shopify_own_versions SELECT id, after, ? FROM own_versions_in "
                "ON CONFLICT (shopify_order_id) "
                "DO UPDATE SET updated_at = greatest(shopify_own_versions.updated_at, excluded.updated_at), "
                "recorded_at = excluded.recorded_at",
                [utcnow()],
            )
    return len(trusted)


def of(con: duckdb.DuckDBPyConnection, order_ids: Iterable[str]) -> dict[str, datetime]:
    """Our own last write's version of each of these orders (naive UTC), where one is recorded."""
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        return {}
    found = con.execute(
        "SELECT shopify_order_id, updated_at FROM shopify_own_versions WHERE list_contains(?, shopify_order_id)",
        [ids],
    ).fetchall()
    return {oid: version for oid, version in found}
