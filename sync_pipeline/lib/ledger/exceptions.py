"""Exceptions: what is stuck, why, and who owns it.

At most one open exception exists per (order, sales order, kind, subject): seeing the same
problem again bumps `occurrences` and `last_seen_at` instead of opening a duplicate, so the ops
queue counts problems, not polls.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import duckdb

from sync_pipeline.lib.ledger.bulk import INT, TEXT, staged
from sync_pipeline.lib.ledger.records import ExceptionRecord, OpenException, utcnow


def open_or_touch(con: duckdb.DuckDBPyConnection, records: Iterable[ExceptionRecord]) -> int:
    """Open each exception, or bump the open one for the same problem. Returns how many were new.

    Two statements however many records (row by row, a release's re-check of 200 held orders was
    two statements an exception). The same problem twice in `records` counts as it would one
    after the other: opened once (with the first one's owner), seen as often as it appears, and
    the last one's message and detail kept.
    """
    problems: dict[tuple[str, str, str | None, str | None], list] = {}
    for r in records:
        key = (r.kind, r.subject, r.shopify_order_id, r.sales_order_number)
        detail = None if r.detail is None else json.dumps(r.detail, default=str, ensure_ascii=False)
        if key in problems:
            seen = problems[key]
            seen[5], seen[6], seen[7] = r.message, detail, seen[7] + 1
        else:
            problems[key] = [
                r.shopify_order_id,
                r.sales_order_number,
                r.subject,
                r.kind,
                r.owner,
                r.message,
                detail,
                1,
            ]
    if not problems:
        return 0
    now = utcnow()
    columns = {"oid": TEXT, "son": TEXT, "subject": TEXT, "kind": TEXT, "owner": TEXT, "message": TEXT}
    same_problem = (
        "e.status = 'open' AND e.kind = p.kind AND e.subject = p.subject "
        "AND e.shopify_order_id IS NOT DISTINCT FROM p.oid AND e.sales_order_number IS NOT DISTINCT FROM p.son"
    )
    rows = [[position, *values] for position, values in enumerate(problems.values())]
    with staged(con, "problems_in", {"position": INT, **columns, "detail": TEXT, "seen": INT}, rows):
        con.execute(
            "UPDATE exceptions e SET last_seen_at = ?, occurrences = e.occurrences + p.seen, "
            f"message = p.message, detail = p.detail FROM problems_in p WHERE {same_problem}",
            [now],
        )
        opened = con.execute(
            "INSERT INTO exceptions (shopify_order_id, sales_order_number, subject, kind, owner, message, "
            "detail, opened_at, last_seen_at, occurrences) "
            "SELECT p.oid, p.son, p.subject, p.kind, p.owner, p.message, p.detail, ?, ?, p.seen FROM problems_in p "
            f"WHERE NOT EXISTS (SELECT 1 FROM exceptions e WHERE {same_problem}) ORDER BY p.position "
            "RETURNING exception_id",
            [now, now],
        ).fetchall()
    return len(opened)


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


def resolve_each_order(
    con: duckdb.DuckDBPyConnection,
    resolutions: Sequence[tuple[str, str]],
    kinds: Iterable[str],
    keep: Mapping[str, Iterable[tuple[str, str]]] | None = None,
) -> int:
    """`resolve_for_order` for many orders in one statement, each with its own resolution and its
    own (kind, subject) pairs to keep (`keep`, by order id). One entry per order."""
    kinds = list(kinds)
    if not kinds or not resolutions:
        return 0
    if len({oid for oid, _ in resolutions}) != len(resolutions):
        raise ValueError("resolve_each_order: an order appears twice")
    kept = [[oid, kind, subject] for oid, pairs in (keep or {}).items() for kind, subject in set(pairs)]
    placeholders = ", ".join("?" for _ in kinds)
    with (
        staged(con, "resolving_orders", {"oid": TEXT, "resolution": TEXT}, [list(r) for r in resolutions]),
        staged(con, "kept_problems", {"oid": TEXT, "kind": TEXT, "subject": TEXT}, kept),
    ):
        rows = con.execute(
            "UPDATE exceptions SET status = 'resolved', resolved_at = ?, resolution = r.resolution "
            f"FROM resolving_orders r WHERE exceptions.status = 'open' AND exceptions.kind IN ({placeholders}) "
            "AND exceptions.shopify_order_id = r.oid AND NOT EXISTS (SELECT 1 FROM kept_problems k "
            "WHERE k.oid = r.oid AND k.kind = exceptions.kind AND k.subject = exceptions.subject) "
            "RETURNING exception_id",
            [utcnow(), *kinds],
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
