"""Exceptions: what is stuck, why, and who owns it.

At most one open exception exists per (order, sales order, kind, subject): seeing the same
problem again bumps `occurrences` and `last_seen_at` instead of opening a duplicate, so the ops
queue counts problems, not polls.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import duckdb

from sync_pipeline.lib.ledger.bulk import TEXT, staged
from sync_pipeline.lib.ledger.records import ExceptionRecord, OpenException, utcnow

_SAME_PROBLEM = (
    "status = 'open' AND kind = ? AND subject = ? "
    "AND shopify_order_id IS NOT DISTINCT FROM ? AND sales_order_number IS NOT DISTINCT FROM ?"
)


def open_or_touch(con: duckdb.DuckDBPyConnection, records: Iterable[ExceptionRecord]) -> int:
    """Open each exception, or bump the open one for the same problem. Returns how many were new."""
    now = utcnow()
    opened = 0
    for r in records:
        key = [r.kind, r.subject, r.shopify_order_id, r.sales_order_number]
        detail = None if r.detail is None else json.dumps(r.detail, default=str, ensure_ascii=False)
        existing = con.execute(f"SELECT exception_id FROM exceptions WHERE {_SAME_PROBLEM}", key).fetchone()
        if existing:
            con.execute(
                "UPDATE exceptions SET last_seen_at = ?, occurrences = occurrences + 1, message = ?, "
                "detail = ? WHERE exception_id = ?",
                [now, r.message, detail, existing[0]],
            )
            continue
        con.execute(
            "INSERT INTO exceptions (shopify_order_id, sales_order_number, subject, kind, owner, message, "
            "detail, opened_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                r.shopify_order_id,
                r.sales_order_number,
                r.subject,
                r.kind,
                r.owner,
                r.message,
                detail,
                now,
                now,
            ],
        )
        opened += 1
    return opened


def resolve_for_order(
    con: duckdb.DuckDBPyConnection,
    shopify_order_id: str,
    kinds: Iterable[str],
    resolution: str,
    keep: Iterable[tuple[str, str]] = (),
) -> int:
    """Close the open exceptions of these kinds on an order (the problem went away), except the
    (kind, subject) pairs in `keep`: problems fixed while others remain."""
    kinds, kept = list(kinds), sorted(set(keep))
    if not kinds:
        return 0
    placeholders = ", ".join("?" for _ in kinds)
    spared = "".join(" AND NOT (kind = ? AND subject = ?)" for _ in kept)
    rows = con.execute(
        f"UPDATE exceptions SET status = 'resolved', resolved_at = ?, resolution = ? "
        f"WHERE status = 'open' AND shopify_order_id = ? AND kind IN ({placeholders}){spared} "
        "RETURNING exception_id",
        [utcnow(), resolution, shopify_order_id, *kinds, *(v for pair in kept for v in pair)],
    ).fetchall()
    return len(rows)


def resolve_for_orders(
    con: duckdb.DuckDBPyConnection, shopify_order_ids: Sequence[str], kinds: Iterable[str], resolution: str
) -> int:
    """`resolve_for_order` (nothing kept) for many orders in one statement."""
    kinds = list(kinds)
    if not kinds or not shopify_order_ids:
        return 0
    placeholders = ", ".join("?" for _ in kinds)
    with staged(con, "resolved_orders", {"oid": TEXT}, [[oid] for oid in shopify_order_ids]):
        rows = con.execute(
            f"UPDATE exceptions SET status = 'resolved', resolved_at = ?, resolution = ? "
            f"WHERE status = 'open' AND kind IN ({placeholders}) "
            "AND shopify_order_id IN (SELECT oid FROM resolved_orders) RETURNING exception_id",
            [utcnow(), resolution, *kinds],
        ).fetchall()
    return len(rows)


def resolve_for_subject(
    con: duckdb.DuckDBPyConnection, kinds: Iterable[str], subject: str, resolution: str
) -> int:
    """Close the open exceptions of these kinds about one subject (a package, a SKU…)."""
    kinds = list(kinds)
    if not kinds:
        return 0
    placeholders = ", ".join("?" for _ in kinds)
    rows = con.execute(
        f"UPDATE exceptions SET status = 'resolved', resolved_at = ?, resolution = ? "
        f"WHERE status = 'open' AND subject = ? AND kind IN ({placeholders}) RETURNING exception_id",
        [utcnow(), resolution, subject, *kinds],
    ).fetchall()
    return len(rows)


def resolve_for_subjects(
    con: duckdb.DuckDBPyConnection, kinds: Iterable[str], subjects: Iterable[str], resolution: str
) -> int:
    """`resolve_for_subject` for many subjects in one statement (a fulfil wave settles dozens)."""
    kinds, wanted = list(kinds), list(dict.fromkeys(subjects))
    if not kinds or not wanted:
        return 0
    placeholders = ", ".join("?" for _ in kinds)
    rows = con.execute(
        f"UPDATE exceptions SET status = 'resolved', resolved_at = ?, resolution = ? "
        f"WHERE status = 'open' AND kind IN ({placeholders}) AND list_contains(?, subject) RETURNING exception_id",
        [utcnow(), resolution, *kinds, wanted],
    ).fetchall()
    return len(rows)


def open_subjects(con: duckdb.DuckDBPyConnection, kinds: Iterable[str]) -> set[tuple[str, str]]:
    """(kind, subject) of every open exception of these kinds."""
    kinds = list(kinds)
    if not kinds:
        return set()
    placeholders = ", ".join("?" for _ in kinds)
    rows = con.execute(
        f"SELECT kind, subject FROM exceptions WHERE status = 'open' AND kind IN ({placeholders})", kinds
    ).fetchall()
    return {(r[0], r[1]) for r in rows}


def list_open(con: duckdb.DuckDBPyConnection, kind: str | None = None) -> list[OpenException]:
    sql = (
        "SELECT exception_id, kind, owner, message, shopify_order_id, sales_order_number, subject, "
        "opened_at, last_seen_at, occurrences FROM exceptions WHERE status = 'open'"
    )
    params: list[object] = []
    if kind is not None:
        sql += " AND kind = ?"
        params.append(kind)
    rows = con.execute(sql + " ORDER BY exception_id", params).fetchall()
    return [OpenException(*row) for row in rows]
