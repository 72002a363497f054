"""Which orders' fulfilments to read again for a fulfilment cancelled in Shopify, and what was found.

An order is a candidate when the orders ingest recorded a version of it (`orders.shopify_updated_at`,
from `orders/updated` or the poll) newer than everything our own writes explain: the version
Shopify answered our last fulfilment of it with and the version at which it was last checked
(`shopify_fulfilment_checks`, migration 0020), and our own recorded version (`shopify_own_versions`).
Only where none of those Shopify versions is known does it fall back to our own clock (the newest
of our fulfilments' creation and tracking times).

Why Shopify's versions, not our clock: `updatedAt` has whole seconds, and we record a fulfilment
`created` when its answer is written, which under load can be a second or more after Shopify made
it. A cancel in the admin within that gap has a version older than our clock's time and was never
read (CI, 2026-12-01). A limit left as it was: a cancel between two of our fulfilments of one order,
not yet ingested when the second is answered, is explained by the second's version (the answer
gives only the version after it); the old rule missed it the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import duckdb

from sync_pipeline.lib.ledger.bulk import TEXT, TIME, staged
from sync_pipeline.lib.ledger.records import to_naive_utc, utcnow

CANCELLED = "cancelled"


def changed_since_fulfilled(con: duckdb.DuckDBPyConnection, limit: int) -> list[tuple[str, datetime]]:
    """(order id, version to record as checked) of orders with a `created` fulfilment of ours that
    changed in Shopify after our last write, oldest change first.

    It groups every `created` fulfilment, once a fulfil step: 34-44 ms at 100,000 of them, 24-37
    times the step's own first ledger read, 0.2% of a 20 s step (`benchmarks/despatch_cancel_check_cost.py`).
    Limiting it to orders changed in the last two days gained little (24 ms), so it is left whole: no
    cancel is missed after a pause of the steps. Past a few hundred thousand, keep `ours` per order."""
    return [
        (r[0], r[1])
        for r in con.execute(
            """
            SELECT o.shopify_order_id, o.shopify_updated_at
            FROM orders o
            JOIN (SELECT shopify_order_id, max(greatest(coalesce(created_at, last_attempt_at),
                                                        coalesce(tracking_posted_at, created_at, last_attempt_at))) AS ours
                  FROM shopify_fulfilments WHERE state = 'created' GROUP BY shopify_order_id) f
              USING (shopify_order_id)
            LEFT JOIN shopify_own_versions v USING (shopify_order_id)
            LEFT JOIN shopify_fulfilment_checks c USING (shopify_order_id)
            WHERE o.shopify_updated_at > greatest(coalesce(v.updated_at, c.checked_version, f.ours),
                                                  coalesce(c.checked_version, v.updated_at, f.ours))
            ORDER BY o.shopify_updated_at
            LIMIT ?
            """,
            [limit],
        ).fetchall()
    ]


def mark_checked(con: duckdb.DuckDBPyConnection, checked: Iterable[tuple[str, datetime]]) -> None:
    """(order id, version): read at that version and nothing of ours found cancelled, or (from
    `record_own_writes`) a version our own fulfilment explains. Never moves a recorded version back
    (answers and checks can finish out of order; an older one would only cost a read again)."""
    rows = [[oid, to_naive_utc(version)] for oid, version in checked]
    if not rows:
        return
    with staged(con, "fulfilment_checks_in", {"id": TEXT, "version": TIME}, rows):
        con.execute(
            "INSERT INTO shopify_fulfilment_checks SELECT id, max(version), ? FROM fulfilment_checks_in GROUP BY id "
            "ON CONFLICT (shopify_order_id) DO UPDATE SET "
            "checked_version = greatest(shopify_fulfilment_checks.checked_version, excluded.checked_version), "
            "checked_at = excluded.checked_at",
            [utcnow()],
        )


def record_own_writes(con: duckdb.DuckDBPyConnection, versions: Iterable[tuple[str, datetime]]) -> None:
    """(order id, the version Shopify answered our fulfilment with): explained by our own write, so
    it needs no read."""
    mark_checked(con, versions)


def mark_cancelled(con: duckdb.DuckDBPyConnection, package_numbers: Iterable[str], why: str) -> int:
    """Our `created` fulfilments of these packages, cancelled in Shopify since."""
    numbers = list(dict.fromkeys(package_numbers))
    if not numbers:
        return 0
    con.execute(
        "UPDATE shopify_fulfilments SET state = ?, last_error = ? "
        "WHERE state = 'created' AND list_contains(?, package_number)",
        [CANCELLED, why, numbers],
    )
    return len(numbers)
