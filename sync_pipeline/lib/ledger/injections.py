"""Peoplevox sales-order injections: the write-ahead record of what we send and what came of it.

Before a SaveData call the rows are recorded as `sending`; after it, `accepted` or `failed`.
Once accepted, `header` and `items` are what Peoplevox holds: rows it refused are left out, and
every change pushed later is recorded row by row as Peoplevox applied it.
A row left in `sending` means the outcome is unknown (a crash or a lost response): the next
run looks the order up in Peoplevox before sending anything again, so no order is created
twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from sync_pipeline.lib.ledger.bulk import TEXT, TIME, staged
from sync_pipeline.lib.ledger.records import to_naive_utc, utcnow


@dataclass(frozen=True)
class Injection:
    sales_order_number: str
    shopify_order_id: str
    state: str
    attempts: int
    header: dict[str, Any] | None
    items: list[dict[str, Any]] | None
    last_error: str | None


def _load(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def mark_sending(
    con: duckdb.DuckDBPyConnection,
    batch: Iterable[tuple[str, str, dict[str, Any], list[dict[str, Any]]]],
    run_id: str,
) -> int:
    """Record intent for (sales order number, order id, header, items) before the call."""
    now = utcnow()
    data = [
        [
            son,
            oid,
            json.dumps(header, ensure_ascii=False),
            json.dumps(items, ensure_ascii=False),
            now,
            now,
            run_id,
        ]
        for son, oid, header, items in batch
    ]
    if data:
        columns = {"son": TEXT, "oid": TEXT, "header": TEXT, "items": TEXT}
        columns |= {"first_at": TIME, "last_at": TIME, "run_id": TEXT}
        # In bulk: row by row, a release wave held the ledger's lock for seconds.
        with staged(con, "sending_in", columns, data):
            con.execute(
                "INSERT INTO pvx_injections (sales_order_number, shopify_order_id, state, attempts, header, "
                "items, first_attempt_at, last_attempt_at, run_id) "
                "SELECT son, oid, 'sending', 1, header, items, first_at, last_at, run_id FROM sending_in "
                "ON CONFLICT (sales_order_number) DO UPDATE SET state = 'sending', "
                "attempts = pvx_injections.attempts + 1, header = excluded.header, items = excluded.items, "
                "last_attempt_at = excluded.last_attempt_at, run_id = excluded.run_id, last_error = NULL"
            )
    return len(data)


def mark(
    con: duckdb.DuckDBPyConnection, sales_order_number: str, state: str, error: str | None = None
) -> None:
    confirmed = utcnow() if state == "accepted" else None
    con.execute(
        "UPDATE pvx_injections SET state = ?, last_error = ?, confirmed_at = coalesce(?, confirmed_at) "
        "WHERE sales_order_number = ?",
        [state, error, confirmed, sales_order_number],
    )


def mark_many(con: duckdb.DuckDBPyConnection, verdicts: Sequence[tuple[str, str, str | None]]) -> None:
    """`mark` for many (sales order number, state, error) in one statement."""
    if not verdicts:
        return
    with staged(con, "marks_in", {"son": TEXT, "state": TEXT, "error": TEXT}, verdicts):
        con.execute(
            "UPDATE pvx_injections SET state = u.state, last_error = u.error, confirmed_at = "
            "CASE WHEN u.state = 'accepted' THEN ? ELSE pvx_injections.confirmed_at END "
            "FROM marks_in u WHERE pvx_injections.sales_order_number = u.son",
            [utcnow()],
        )


def set_records(
    con: duckdb.DuckDBPyConnection, records: Sequence[tuple[str, dict[str, Any], list[dict[str, Any]]]]
) -> None:
    """(sales order number, header, items): what Peoplevox holds for each now (after a partial
    acceptance or a pushed change), in one statement."""
    rows = [
        [number, json.dumps(header, ensure_ascii=False), json.dumps(items, ensure_ascii=False)]
        for number, header, items in records
    ]
    if not rows:
        return
    with staged(con, "records_in", {"son": TEXT, "header": TEXT, "items": TEXT}, rows):
        con.execute(
            "UPDATE pvx_injections SET header = u.header, items = u.items FROM records_in u "
            "WHERE pvx_injections.sales_order_number = u.son"
        )


def mark_change_sending(con: duckdb.DuckDBPyConnection, numbers: Iterable[str]) -> None:
    """Before pushing a change to accepted sales orders: `sending` until its answer is recorded
    (header and items stay what Peoplevox held before, for the look-up to compare against).
    Acceptance time and attempts are the injection's and stay as they were."""
    _set_state_where(con, numbers, "sending", "accepted")


def mark_changes_answered(con: duckdb.DuckDBPyConnection, numbers: Iterable[str]) -> None:
    """These changes' answers are recorded: back to `accepted` (acceptance times unchanged)."""
    _set_state_where(con, numbers, "accepted", "sending")


def _set_state_where(con: duckdb.DuckDBPyConnection, numbers: Iterable[str], new: str, current: str) -> None:
    wanted = [[n] for n in dict.fromkeys(numbers)]
    if wanted:
        with staged(con, "changed_injections", {"n": TEXT}, wanted):
            con.execute(
                "UPDATE pvx_injections SET state = ? WHERE state = ? "
                "AND sales_order_number IN (SELECT n FROM changed_injections)",
                [new, current],
            )


def in_state(con: duckdb.DuckDBPyConnection, state: str, limit: int = 1000) -> list[Injection]:
    rows = con.execute(
        "SELECT sales_order_number, shopify_order_id, state, attempts, header, items, last_error "
        "FROM pvx_injections WHERE state = ? ORDER BY last_attempt_at LIMIT ?",
        [state, limit],
    ).fetchall()
    return [Injection(r[0], r[1], r[2], r[3], _load(r[4]), _load(r[5]), r[6]) for r in rows]


def state_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(
        con.execute("SELECT state, count(*) FROM pvx_injections GROUP BY state ORDER BY state").fetchall()
    )


def get_many(con: duckdb.DuckDBPyConnection, numbers: Iterable[str]) -> dict[str, Injection]:
    wanted = [[n] for n in dict.fromkeys(numbers)]
    if not wanted:
        return {}
    with staged(con, "wanted_injections", {"n": TEXT}, wanted):
        rows = con.execute(
            "SELECT i.sales_order_number, i.shopify_order_id, i.state, i.attempts, i.header, i.items, i.last_error "
            "FROM pvx_injections i JOIN wanted_injections w ON w.n = i.sales_order_number"
        ).fetchall()
    return {r[0]: Injection(r[0], r[1], r[2], r[3], _load(r[4]), _load(r[5]), r[6]) for r in rows}


def accepted_numbers_before_status(
    con: duckdb.DuckDBPyConnection,
    final_statuses: Iterable[str],
    limit: int,
    checked_before: datetime | None = None,
) -> list[str]:
    """Accepted sales orders whose last known Peoplevox status is not final, least recently checked
    first; with `checked_before`, only those not checked since then."""
    finals = list(final_statuses)
    placeholders = ", ".join("?" for _ in finals)
    stale = "" if checked_before is None else "AND coalesce(o.pvx_status_at, i.confirmed_at) < ? "
    rows = con.execute(
        "SELECT i.sales_order_number FROM pvx_injections i JOIN orders o ON o.sales_order_number = i.sales_order_number "
        f"WHERE i.state = 'accepted' AND coalesce(o.pvx_status, '') NOT IN ({placeholders}) {stale}"
        "ORDER BY coalesce(o.pvx_status_at, i.confirmed_at) LIMIT ?",
        [*finals, *([] if checked_before is None else [to_naive_utc(checked_before)]), limit],
    ).fetchall()
    return [r[0] for r in rows]
