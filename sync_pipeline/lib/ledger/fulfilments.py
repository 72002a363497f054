"""Shopify fulfilments: the write-ahead record of what we create, one per Peoplevox package.

Before `fulfillmentCreate` the intent is recorded as `sending`; after it, `created` (with
Shopify's fulfilment id) or `failed`. A row left `sending` means the outcome is unknown (a crash
or a lost answer): the next run reads the order's fulfilments from Shopify and records the one
that is there instead of creating a second, so no customer gets a second shipping email.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from sync_pipeline.lib.ledger.bulk import BOOL, TEXT, TIME, staged
from sync_pipeline.lib.ledger.records import utcnow


@dataclass(frozen=True)
class FulfilmentIntent:
    package_number: str
    shopify_order_id: str
    location_id: str | None
    request: dict[str, dict[str, int]]  # fulfilment order id → {FO line item id: quantity}
    line_quantities: dict[str, int]  # line item id → quantity
    tracking_number: str | None
    tracking_company: str | None
    tracking_url: str | None
    notify_customer: bool


@dataclass(frozen=True)
class FulfilmentRow:
    intent: FulfilmentIntent
    state: str
    fulfillment_id: str | None
    fulfillment_name: str | None
    attempts: int
    first_attempt_at: datetime
    last_attempt_at: datetime
    created_at: datetime | None
    tracking_posted_at: datetime | None
    last_error: str | None
    # The package's number Shopify last refused for this fulfilment (`tracking_refused`).
    tracking_refused_number: str | None = None


_COLUMNS = (
    "package_number", "shopify_order_id", "location_id", "request", "line_quantities", "tracking_number",
    "tracking_company", "tracking_url", "notify_customer", "state", "fulfillment_id", "fulfillment_name",
    "attempts", "first_attempt_at", "last_attempt_at", "created_at", "tracking_posted_at", "last_error",
    "tracking_refused_number",
)  # fmt: skip
_SELECT = f"SELECT {', '.join('f.' + c for c in _COLUMNS)} FROM shopify_fulfilments f"


def _load(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _row(r: tuple[Any, ...]) -> FulfilmentRow:
    intent = FulfilmentIntent(r[0], r[1], r[2], _load(r[3]), _load(r[4]), r[5], r[6], r[7], bool(r[8]))
    return FulfilmentRow(intent, *r[9:])


_INTENT_TYPES = {
    "package_number": TEXT, "shopify_order_id": TEXT, "location_id": TEXT, "request": TEXT,
    "line_quantities": TEXT, "tracking_number": TEXT, "tracking_company": TEXT, "tracking_url": TEXT,
    "notify_customer": BOOL, "attempt_at": TIME, "run_id": TEXT,
}  # fmt: skip


def mark_sending(con: duckdb.DuckDBPyConnection, intents: Iterable[FulfilmentIntent], run_id: str) -> int:
    """Record intent before the call; a retry of the same package bumps `attempts`. One statement
    for the batch (row by row, `executemany`, it was a statement a package on the fulfil step's
    ledger thread). A package named twice keeps its last intent."""
    now = utcnow()
    last = {i.package_number: i for i in intents}
    data = [
        [
            i.package_number, i.shopify_order_id, i.location_id, json.dumps(i.request),
            json.dumps(i.line_quantities), i.tracking_number, i.tracking_company, i.tracking_url,
            i.notify_customer, now, run_id,
        ]
        for i in last.values()
    ]  # fmt: skip
    if data:
        with staged(con, "fulfilment_intents_in", _INTENT_TYPES, data):
            con.execute(
                "INSERT INTO shopify_fulfilments (package_number, shopify_order_id, location_id, request, "
                "line_quantities, tracking_number, tracking_company, tracking_url, notify_customer, state, attempts, "
                "first_attempt_at, last_attempt_at, run_id) SELECT package_number, shopify_order_id, location_id, "
                "request::JSON, line_quantities::JSON, tracking_number, tracking_company, tracking_url, "
                "notify_customer, 'sending', 1, attempt_at, attempt_at, run_id FROM fulfilment_intents_in "
                "ON CONFLICT (package_number) DO UPDATE SET state = 'sending', attempts = shopify_fulfilments.attempts + 1, "
                "location_id = excluded.location_id, request = excluded.request, "
                "line_quantities = excluded.line_quantities, tracking_number = excluded.tracking_number, "
                "tracking_company = excluded.tracking_company, tracking_url = excluded.tracking_url, "
                "notify_customer = excluded.notify_customer, last_attempt_at = excluded.last_attempt_at, "
                "run_id = excluded.run_id, last_error = NULL"
            )
    return len(data)


# What `mark_created` did with an answer.
RECORDED = "recorded"  # the row was the caller's attempt: now `created`
FOUND = "found"  # another run had taken the row over (not created yet): ours is what Shopify holds
ALREADY = "already"  # the row already holds this very fulfilment (a lookup found it first)
DUPLICATE = "duplicate"  # the row holds another fulfilment: Shopify has two of this package


@dataclass(frozen=True)
class Created:
    """Shopify's answer to one package's `fulfillmentCreate` (or a lookup's find), for `mark_created_many`."""

    package_number: str
    fulfillment_id: str
    fulfillment_name: str | None
    tracking_number: str | None
    line_quantities: dict[str, int] | None = None  # replaces the intent's when given


_CREATED_TYPES = {"n": TEXT, "fid": TEXT, "name": TEXT, "tracking": TEXT, "lines": TEXT}


def mark_created(
    con: duckdb.DuckDBPyConnection,
    package_number: str,
    fulfillment_id: str,
    fulfillment_name: str | None,
    tracking_number: str | None,
    line_quantities: dict[str, int] | None = None,
    run_id: str | None = None,
) -> str:
    """Shopify has the fulfilment. `line_quantities` replaces the intent's when Shopify's differ
    (a fulfilment found by lookup is recorded as Shopify holds it).

    With `run_id` (an answer to that run's send) this is a compare-and-set on the claim: the row
    is written as that run's answer only while it is still that run's `sending` attempt. A late
    answer to a run that lost its claim (another run's lookup took the package over) is still a
    fact about Shopify: over a row not `created` yet it is recorded as found (`FOUND`; another
    run's claim then fails, so it sends nothing), and it never overwrites a `created` row
    (`ALREADY` if that row holds this fulfilment, `DUPLICATE` if another: the caller says so).
    Without `run_id` the caller has checked the row itself (the in-doubt lookup's `still_sending`)."""
    made = Created(package_number, fulfillment_id, fulfillment_name, tracking_number, line_quantities)
    return mark_created_many(con, [made], run_id)[0]


def mark_created_many(
    con: duckdb.DuckDBPyConnection, answers: Sequence[Created], run_id: str | None = None
) -> list[str]:
    """`mark_created` for a wave's answers: one read of their rows, one write; each answer's
    outcome (`RECORDED`, `FOUND`, `ALREADY`, `DUPLICATE`) in the order given, under the same
    compare-and-set rules as one at a time (a package answered twice: the second sees the first)."""
    if not answers:
        return []
    numbers = list(dict.fromkeys(a.package_number for a in answers))
    with staged(con, "created_wanted", {"n": TEXT}, [[n] for n in numbers]):
        current: dict[str, tuple[str, str | None, str | None] | None] = {
            n: (state, run, fid)
            for n, state, run, fid in con.execute(
                "SELECT f.package_number, f.state, f.run_id, f.fulfillment_id FROM shopify_fulfilments f "
                "JOIN created_wanted w ON w.n = f.package_number"
            ).fetchall()
        }
    outcomes: list[str] = []
    writes: dict[str, Created] = {}
    for a in answers:
        row = current.get(a.package_number)
        if row is not None and row[0] == "created":
            outcomes.append(ALREADY if row[2] == a.fulfillment_id else DUPLICATE)
            continue
        ours = run_id is None or (row is not None and row[:2] == ("sending", run_id))
        outcomes.append(RECORDED if ours else FOUND)
        if row is not None:  # no row: nothing to write (as the single UPDATE found nothing)
            writes[a.package_number] = a
            current[a.package_number] = ("created", row[1], a.fulfillment_id)
    if writes:
        now = utcnow()
        rows = [
            [a.package_number, a.fulfillment_id, a.fulfillment_name, a.tracking_number,
             None if a.line_quantities is None else json.dumps(a.line_quantities)]
            for a in writes.values()
        ]  # fmt: skip
        with staged(con, "created_in", _CREATED_TYPES, rows):
            con.execute(
                "UPDATE shopify_fulfilments AS f SET state = 'created', fulfillment_id = w.fid, "
                "fulfillment_name = w.name, created_at = coalesce(f.created_at, ?), last_error = NULL, "
                "tracking_posted_at = CASE WHEN w.tracking IS NOT NULL THEN coalesce(f.tracking_posted_at, ?) "
                "ELSE f.tracking_posted_at END, line_quantities = coalesce(w.lines::JSON, f.line_quantities) "
                "FROM created_in AS w WHERE f.package_number = w.n",
                [now, now],
            )
    return outcomes


def mark_failed(
    con: duckdb.DuckDBPyConnection, package_number: str, error: str, run_id: str | None = None
) -> bool:
    """Shopify holds no fulfilment of this attempt. With `run_id`, only while the row is still that
    run's `sending` attempt (a refusal answered to a run that lost its claim says nothing about the
    row's newer attempt or verdict). Returns whether the row was written."""
    return bool(mark_failed_many(con, [(package_number, error)], run_id))


def mark_failed_many(
    con: duckdb.DuckDBPyConnection, failures: Sequence[tuple[str, str]], run_id: str | None = None
) -> set[str]:
    """`mark_failed` for many (package, error) in one statement; returns the packages written."""
    last = dict(failures)
    if not last:
        return set()
    claim = " AND f.state = 'sending' AND f.run_id = ?" if run_id is not None else ""
    with staged(con, "failed_in", {"n": TEXT, "error": TEXT}, list(last.items())):
        rows = con.execute(
            "UPDATE shopify_fulfilments AS f SET state = 'failed', last_error = w.error "
            f"FROM failed_in AS w WHERE f.package_number = w.n{claim} RETURNING f.package_number",
            [run_id] if run_id is not None else [],
        ).fetchall()
    return {r[0] for r in rows}


def withdraw_unsent(
    con: duckdb.DuckDBPyConnection, package_numbers: Iterable[str], run_id: str, reason: str
) -> set[str]:
    """Write-aheads this run made and never sent: `failed` with `reason`, only where the row is
    still this run's `sending` attempt (another run may have looked it up or sent it again since).
    Returns the packages withdrawn."""
    wanted = list(dict.fromkeys(package_numbers))
    if not wanted:
        return set()
    rows = con.execute(
        "UPDATE shopify_fulfilments SET state = 'failed', last_error = ? "
        "WHERE state = 'sending' AND run_id = ? AND list_contains(?, package_number) RETURNING package_number",
        [reason, run_id, wanted],
    ).fetchall()
    return {r[0] for r in rows}


def claim_for_sending(con: duckdb.DuckDBPyConnection, package_number: str, run_id: str) -> bool:
    """Just before the call: True if the row is still this run's `sending` attempt, and its
    `last_attempt_at` is now (the send). A run writes a batch ahead and sends it order by order for
    up to its time budget, so without this another run's in-doubt lookup could take a package
    written ahead but not sent yet for one "not in Shopify", send it, and this run send it again."""
    row = con.execute(
        "UPDATE shopify_fulfilments SET last_attempt_at = ? "
        "WHERE package_number = ? AND state = 'sending' AND run_id = ? RETURNING package_number",
        [utcnow(), package_number, run_id],
    ).fetchone()
    return row is not None


def claim_many(con: duckdb.DuckDBPyConnection, package_numbers: Iterable[str], run_id: str) -> set[str]:
    """`claim_for_sending` for a wave of packages in one statement (compare and set on `run_id`):
    the packages still this run's `sending` attempt, their `last_attempt_at` now. (A list test, as
    `withdraw_unsent`'s: a wave is a few dozen packages.)"""
    wanted = list(dict.fromkeys(package_numbers))
    if not wanted:
        return set()
    rows = con.execute(
        "UPDATE shopify_fulfilments SET last_attempt_at = ? "
        "WHERE state = 'sending' AND run_id = ? AND list_contains(?, package_number) RETURNING package_number",
        [utcnow(), run_id, wanted],
    ).fetchall()
    return {r[0] for r in rows}


def set_tracking(
    con: duckdb.DuckDBPyConnection, package_number: str, number: str, company: str | None, url: str | None
) -> None:
    """Tracking added to an existing fulfilment (fulfillmentTrackingInfoUpdate succeeded)."""
    con.execute(
        "UPDATE shopify_fulfilments SET tracking_number = ?, tracking_company = ?, tracking_url = ?, "
        "tracking_posted_at = ? WHERE package_number = ?",
        [number, company, url, utcnow(), package_number],
    )


def in_state(con: duckdb.DuckDBPyConnection, state: str, limit: int = 1000) -> list[FulfilmentRow]:
    rows = con.execute(
        f"{_SELECT} WHERE f.state = ? ORDER BY f.last_attempt_at LIMIT ?", [state, limit]
    ).fetchall()
    return [_row(r) for r in rows]


def still_sending(con: duckdb.DuckDBPyConnection, rows: Iterable[FulfilmentRow]) -> set[str]:
    """Packages of `rows` whose write-ahead is still that very attempt (`sending`, same last attempt):
    a lookup's verdict may be written for these only, not over another run's newer attempt."""
    wanted = {r.intent.package_number: r.last_attempt_at for r in rows}  # as read from this table
    if not wanted:
        return set()
    found = con.execute(
        "SELECT package_number, last_attempt_at FROM shopify_fulfilments "
        "WHERE state = 'sending' AND list_contains(?, package_number)",
        [list(wanted)],
    ).fetchall()
    return {number for number, at in found if at == wanted[number]}


def orders_sending_since(
    con: duckdb.DuckDBPyConnection, order_ids: Iterable[str], since: datetime
) -> set[str]:
    """Those of `order_ids` with a send still in flight: a `sending` row attempted (or claimed)
    after `since`."""
    wanted = list(dict.fromkeys(order_ids))
    if not wanted:
        return set()
    rows = con.execute(
        "SELECT DISTINCT shopify_order_id FROM shopify_fulfilments "
        "WHERE state = 'sending' AND last_attempt_at > ? AND list_contains(?, shopify_order_id)",
        [since, wanted],
    ).fetchall()
    return {r[0] for r in rows}


def orders_in_state(con: duckdb.DuckDBPyConnection, state: str, order_ids: Iterable[str]) -> set[str]:
    """Those of `order_ids` with a fulfilment in `state`."""
    wanted = [[i] for i in dict.fromkeys(order_ids)]
    if not wanted:
        return set()
    with staged(con, "wanted_state_orders", {"id": TEXT}, wanted):
        rows = con.execute(
            "SELECT DISTINCT f.shopify_order_id FROM shopify_fulfilments f "
            "JOIN wanted_state_orders w ON w.id = f.shopify_order_id WHERE f.state = ?",
            [state],
        ).fetchall()
    return {r[0] for r in rows}


def for_orders(con: duckdb.DuckDBPyConnection, order_ids: Iterable[str]) -> dict[str, list[FulfilmentRow]]:
    wanted = [[i] for i in dict.fromkeys(order_ids)]
    if not wanted:
        return {}
    with staged(con, "wanted_fulfilment_orders", {"id": TEXT}, wanted):
        rows = con.execute(
            f"{_SELECT} JOIN wanted_fulfilment_orders w ON w.id = f.shopify_order_id ORDER BY f.first_attempt_at"
        ).fetchall()
    found: dict[str, list[FulfilmentRow]] = {}
    for row in map(_row, rows):
        found.setdefault(row.intent.shopify_order_id, []).append(row)
    return found


def claimed_fulfillment_ids(con: duckdb.DuckDBPyConnection, order_ids: Iterable[str]) -> set[str]:
    """Shopify fulfilment ids already recorded for a package of these orders."""
    return {
        r.fulfillment_id for rows in for_orders(con, order_ids).values() for r in rows if r.fulfillment_id
    }


def created_awaiting_tracking(con: duckdb.DuckDBPyConnection, limit: int = 500) -> list[FulfilmentRow]:
    """Fulfilments created without tracking whose package has a tracking number now, or whose
    package's number changed since (a carrier relabel), other than the number Shopify last refused."""
    rows = con.execute(
        f"{_SELECT} JOIN despatch_packages p USING (package_number) WHERE f.state = 'created' "
        "AND nullif(trim(p.tracking_number), '') IS NOT NULL "
        "AND (f.tracking_posted_at IS NULL OR trim(p.tracking_number) IS DISTINCT FROM f.tracking_number) "
        "AND trim(p.tracking_number) IS DISTINCT FROM f.tracking_refused_number ORDER BY f.created_at LIMIT ?",
        [limit],
    ).fetchall()
    return [_row(r) for r in rows]


def tracking_refused(
    con: duckdb.DuckDBPyConnection, package_number: str, tracking_number: str, error: str
) -> None:
    """Shopify refused adding `tracking_number` to this package's fulfilment. The fulfilment stays
    `created` (Shopify holds it; marking it failed would make the ledger disagree with Shopify),
    and the number is not offered again (`created_awaiting_tracking`)."""
    con.execute(
        "UPDATE shopify_fulfilments SET tracking_refused_number = ?, last_error = ? "
        "WHERE package_number = ? AND state = 'created'",
        [tracking_number, f"tracking update refused: {error}", package_number],
    )


def parcels_without_tracking(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str | None, str]]:
    """(parcel, order id, fulfilment name, whose) of every parcel a fulfilment Shopify holds stands
    for whose tracking number that fulfilment lacks: the fulfilment's own package until its number
    is posted, and a pooled package it carries with no number (`carried_number` NULL). `whose` is
    "own" or the carrying package. Counted by fulfilment, a carrying one without its own number but
    with its pooled parcels' read as having none at all, and a pooled parcel carried without a
    number beside the carrier's own was not counted (until 2026-12-01)."""
    return con.execute(
        "SELECT parcel, order_id, name, whose FROM ("
        " SELECT package_number AS parcel, shopify_order_id AS order_id, fulfillment_name AS name, "
        " 'own' AS whose, created_at FROM shopify_fulfilments WHERE state = 'created' AND tracking_posted_at IS NULL"
        " UNION ALL"
        " SELECT q.package_number, f.shopify_order_id, f.fulfillment_name, 'carried by ' || f.package_number, "
        " f.created_at FROM despatch_packages q JOIN shopify_fulfilments f ON f.package_number = q.carried_by"
        " WHERE f.state = 'created' AND q.carried_number IS NULL"
        ") ORDER BY created_at, parcel"
    ).fetchall()


def state_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(
        con.execute(
            "SELECT state, count(*) FROM shopify_fulfilments GROUP BY state ORDER BY state"
        ).fetchall()
    )
