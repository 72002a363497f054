"""Write-ahead record of every quantity the stock flow sets in Shopify.

Rows are written `sending` before `inventorySetQuantities`, one per quantity, all carrying the
request's `@idempotent` key; the answer settles them together (Shopify applies a request whole or
not at all). A row left `sending` (the process died, or the answer was lost) is settled by reading
the level back: `applied` when Shopify holds what we sent, `not_applied` when it still holds what we
expected it to hold, `superseded` when it holds anything else (someone changed it meanwhile;
the next push works from the fresh figure).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import duckdb

from sync_pipeline.lib.ledger.bulk import INT, TEXT, staged
from sync_pipeline.lib.ledger.records import to_naive_utc

SENDING, APPLIED, STALE, REFUSED = "sending", "applied", "stale", "refused"
NOT_APPLIED, SUPERSEDED = "not_applied", "superseded"


@dataclass(frozen=True)
class PushIntent:
    sku: str
    inventory_item_id: str
    location_id: str
    from_quantity: int | None
    to_quantity: int


@dataclass(frozen=True)
class PushRow:
    push_id: int
    idempotency_key: str
    intent: PushIntent
    state: str
    sent_at: datetime


_INTENT_COLUMNS = {
    "sku": TEXT, "inventory_item_id": TEXT, "location_id": TEXT, "from_quantity": INT, "to_quantity": INT,
}  # fmt: skip


def mark_sending_many(
    con: duckdb.DuckDBPyConnection,
    requests: Iterable[tuple[str, Iterable[PushIntent]]],
    run_id: str | None,
    at: datetime,
) -> int:
    """Write ahead several requests at once: (idempotency key, its rows) each."""
    data = [
        (key, i.sku, i.inventory_item_id, i.location_id, i.from_quantity, i.to_quantity)
        for key, intents in requests
        for i in intents
    ]
    if not data:
        return 0
    with staged(con, "push_intents", {"idempotency_key": TEXT, **_INTENT_COLUMNS}, data):
        con.execute(
            "INSERT INTO stock_pushes (idempotency_key, sku, inventory_item_id, location_id, from_quantity, "
            "to_quantity, state, sent_at, run_id) SELECT idempotency_key, sku, inventory_item_id, location_id, "
            "from_quantity, to_quantity, ?, ?, ? FROM push_intents",
            [SENDING, to_naive_utc(at), run_id],
        )
    return len(data)


def settle_request(
    con: duckdb.DuckDBPyConnection, key: str, state: str, at: datetime, detail: str | None = None
) -> int:
    rows = con.execute(
        "UPDATE stock_pushes SET state = ?, settled_at = ?, detail = ? WHERE idempotency_key = ? "
        "AND state = ? RETURNING push_id",
        [state, to_naive_utc(at), detail, key, SENDING],
    ).fetchall()
    return len(rows)


def settle_rows(
    con: duckdb.DuckDBPyConnection, outcomes: Iterable[tuple[int, str, str | None]], at: datetime
) -> None:
    """(push id, state, detail) for rows settled one by one (after a lookup)."""
    data = list(outcomes)
    if not data:
        return
    with staged(con, "push_outcomes", {"push_id": "Int64", "state": TEXT, "detail": TEXT}, data):
        con.execute(
            "UPDATE stock_pushes p SET state = o.state, detail = o.detail, settled_at = ? FROM push_outcomes o "
            "WHERE p.push_id = o.push_id AND p.state = ?",
            [to_naive_utc(at), SENDING],
        )


def in_doubt(con: duckdb.DuckDBPyConnection, sent_before: datetime | None = None) -> list[PushRow]:
    """Rows left `sending`; with `sent_before`, only those sent before it (a younger row may be a
    live push's, another run's, whose answer is still on its way)."""
    age = "" if sent_before is None else " AND sent_at <= ?"
    rows = con.execute(
        "SELECT push_id, idempotency_key, sku, inventory_item_id, location_id, from_quantity, to_quantity, "
        f"state, sent_at FROM stock_pushes WHERE state = ?{age} ORDER BY push_id",
        [SENDING] + ([] if sent_before is None else [to_naive_utc(sent_before)]),
    ).fetchall()
    return [PushRow(r[0], r[1], PushIntent(*r[2:7]), r[7], r[8]) for r in rows]


def state_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(
        con.execute("SELECT state, count(*) FROM stock_pushes GROUP BY state ORDER BY state").fetchall()
    )


def prune(con: duckdb.DuckDBPyConnection, settled_before: datetime) -> int:
    rows = con.execute(
        "DELETE FROM stock_pushes WHERE state <> ? AND settled_at < ? RETURNING push_id",
        [SENDING, to_naive_utc(settled_before)],
    ).fetchall()
    return len(rows)
