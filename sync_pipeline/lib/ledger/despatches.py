"""Despatched packages read from Peoplevox, and each order's despatch state.

A package is keyed by its Peoplevox package number (`DES00042`, `DES00042-1`): reading the same
report rows again changes nothing, except a tracking number that arrived or changed since (a
carrier relabel) and, for a package not sent to Shopify yet, changed lines.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

import duckdb

from sync_pipeline.lib.ledger.bulk import TEXT, TIME, staged
from sync_pipeline.lib.ledger.records import to_naive_utc, utcnow


@dataclass(frozen=True)
class PackageRow:
    package_number: str
    despatch_number: str
    sales_order_number: str
    shopify_order_id: str | None
    despatched_at: datetime
    despatch_date: date
    carrier: str | None
    service: str | None
    site: str | None
    tracking_number: str | None
    tracking_seen_at: datetime | None
    items: dict[str, int]
    state: str
    state_reason: str | None
    line_quantities: dict[str, int] | None
    first_seen_at: datetime
    updated_at: datetime
    # Once settled: item units it shipped that no Shopify line accounts for (over-despatch).
    excess_items: dict[str, int] | None = None
    # A `pooled` package: the package whose Shopify fulfilment carries its tracking number, and the
    # number of it that fulfilment was sent with (migration 0017).
    carried_by: str | None = None
    carried_number: str | None = None
    # Peoplevox's lines for a package in doubt that differ from those it was sent with (migration 0019).
    reported_items: dict[str, int] | None = None


_COLUMNS = [f.name for f in fields(PackageRow)]


def _row(values: Sequence[Any]) -> PackageRow:
    data = dict(zip(_COLUMNS, values, strict=True))
    for key in ("items", "line_quantities", "excess_items", "reported_items"):
        if isinstance(data[key], str):
            data[key] = json.loads(data[key])
    return PackageRow(**data)


@dataclass
class UpsertCounts:
    new: list[str]
    tracking_added: list[str]
    # A known package re-reported with another (non-blank) tracking number: taken (a sent
    # package's fulfilment gets it as a tracking update, `fulfilments.created_awaiting_tracking`).
    tracking_changed: list[str] = field(default_factory=list)
    # Re-reported with other lines: taken while the package is in `replaceable` states...
    items_replaced: list[str] = field(default_factory=list)
    # ...and left as it was otherwise (it went to Shopify with the old lines): package -> new lines.
    items_changed_after_send: dict[str, dict[str, int]] = field(default_factory=dict)
    # Being sent with lines reported otherwise since, now reported with those lines again.
    items_reverted: list[str] = field(default_factory=list)


def upsert(
    con: duckdb.DuckDBPyConnection,
    packages: Iterable[PackageRow],
    replaceable: Sequence[str] = (),
    also_replaceable: Collection[str] = (),
    in_doubt: Sequence[str] = (),
) -> UpsertCounts:
    """Insert new packages; on a known one take a tracking number that arrived or changed (with the
    carrier and service read beside it), and changed lines while the package is in one of the
    `replaceable` states (not sent yet) or named in `also_replaceable`. Changed lines of a package
    in an `in_doubt` state are kept aside (`reported_items`) for `take_reported_items`, and
    dropped if it is reported with the lines it was sent with again."""
    rows = {p.package_number: p for p in packages}
    counts = UpsertCounts([], [])
    if not rows:
        return counts
    known = get_many(con, list(rows))
    now = utcnow()
    inserts, tracking, items, aside = [], [], [], []
    for number, p in rows.items():
        before = known.get(number)
        if before is None:
            seen = now if p.tracking_number else None
            inserts.append(
                [
                    p.package_number, p.despatch_number, p.sales_order_number, p.shopify_order_id,
                    to_naive_utc(p.despatched_at), p.despatch_date.isoformat(), p.carrier, p.service, p.site,
                    p.tracking_number, seen, json.dumps(p.items, ensure_ascii=False), p.state,
                    p.state_reason, None, now, now, None, None, None, None,
                ]
            )  # fmt: skip
            counts.new.append(number)
            continue
        new_number, old_number = (p.tracking_number or "").strip(), (before.tracking_number or "").strip()
        # A number comes with the carrier and service the report shows beside it: a relabel may be
        # another carrier's (until 2026-12-01 the old carrier was kept, so Shopify showed the new
        # number under the old carrier's name and link).
        if new_number and not old_number:  # none (or a blank) read before
            tracking.append([p.tracking_number, p.carrier, p.service, now, now, number])
            counts.tracking_added.append(number)
        elif new_number and new_number != old_number:
            tracking.append([p.tracking_number, p.carrier, p.service, now, now, number])
            counts.tracking_changed.append(number)
        if p.items != before.items:
            if before.state in replaceable or number in also_replaceable:
                items.append([json.dumps(p.items, ensure_ascii=False), now, number])
                counts.items_replaced.append(number)
            else:
                counts.items_changed_after_send[number] = p.items
                if before.state in in_doubt:
                    aside.append([json.dumps(p.items, ensure_ascii=False), number])
        elif before.state in in_doubt and before.reported_items is not None:
            # Reported again as it was sent: the lines kept aside are no longer what Peoplevox says
            # (until 2026-12-01 they stayed, and a lookup finding nothing sent those).
            aside.append([None, number])
            counts.items_reverted.append(number)
    # In bulk, one statement each: `executemany` ran a statement a package, and a read of a minute
    # of a despatch peak (~1,400 packages) held the ledger 63 s at load 19 (session 10's despatch
    # benchmark), long enough for the fulfil step waiting on the lock to fail with LedgerBusyError.
    if inserts:
        with staged(con, "packages_in", _INSERT_TYPES, inserts):
            values = ", ".join(_CASTS.get(c, c) for c in _COLUMNS)
            con.execute(
                f"INSERT INTO despatch_packages ({', '.join(_COLUMNS)}) SELECT {values} FROM packages_in"
            )
    if tracking:
        with staged(con, "package_tracking_in", _TRACKING_TYPES, tracking):
            con.execute(
                "UPDATE despatch_packages AS d SET tracking_number = t.tracking_number, "
                "carrier = t.carrier, service = t.service, "
                "tracking_seen_at = t.seen_at, updated_at = t.updated_at "
                "FROM package_tracking_in AS t WHERE d.package_number = t.package_number"
            )
    if items:
        with staged(con, "package_items_in", _ITEMS_TYPES, items):
            con.execute(
                "UPDATE despatch_packages AS d SET items = i.items::JSON, updated_at = i.updated_at "
                "FROM package_items_in AS i WHERE d.package_number = i.package_number"
            )
    if aside:  # not a move of the package's own: `updated_at` is left alone (few: packages in doubt)
        con.executemany("UPDATE despatch_packages SET reported_items = ? WHERE package_number = ?", aside)
    return counts


_JSON_COLUMNS = {"items", "line_quantities", "excess_items", "reported_items"}
_TIME_COLUMNS = {"despatched_at", "tracking_seen_at", "first_seen_at", "updated_at"}
_INSERT_TYPES = {c: TIME if c in _TIME_COLUMNS else TEXT for c in _COLUMNS}
_CASTS = {"despatch_date": "despatch_date::DATE"} | {c: f"{c}::JSON" for c in _JSON_COLUMNS}
_TRACKING_TYPES = {
    "tracking_number": TEXT, "carrier": TEXT, "service": TEXT,
    "seen_at": TIME, "updated_at": TIME, "package_number": TEXT,
}  # fmt: skip
_ITEMS_TYPES = {"items": TEXT, "updated_at": TIME, "package_number": TEXT}


def take_reported_items(con: duckdb.DuckDBPyConnection, package_numbers: Iterable[str]) -> set[str]:
    """These packages' fulfilments are not in Shopify (never sent, refused, not found after an
    unknown outcome): each takes the lines Peoplevox reported while it was being sent, if any.
    Returns the packages that took new lines."""
    wanted = list(dict.fromkeys(package_numbers))
    if not wanted:
        return set()
    rows = con.execute(
        "UPDATE despatch_packages SET items = reported_items, reported_items = NULL "
        "WHERE list_contains(?, package_number) AND reported_items IS NOT NULL RETURNING package_number",
        [wanted],
    ).fetchall()
    return {r[0] for r in rows}


def drop_reported_items(con: duckdb.DuckDBPyConnection, package_numbers: Iterable[str]) -> None:
    """These packages' fulfilments are in Shopify (created, or found): they keep the lines Shopify
    holds."""
    wanted = list(dict.fromkeys(package_numbers))
    if wanted:
        con.execute(
            "UPDATE despatch_packages SET reported_items = NULL "
            "WHERE list_contains(?, package_number) AND reported_items IS NOT NULL",
            [wanted],
        )


def orders_changed_since(
    con: duckdb.DuckDBPyConnection, read: Mapping[str, Sequence[PackageRow]]
) -> set[str]:
    """Orders (of `read`: order id → its packages as a run read them) one of whose packages another
    run has moved on since (state or `updated_at` differ, or it is gone): that run owns them now."""
    current = get_many(con, [p.package_number for rows in read.values() for p in rows])
    return {
        oid
        for oid, rows in read.items()
        for p in rows
        if (now := current.get(p.package_number)) is None
        or (now.state, now.updated_at) != (p.state, p.updated_at)
    }


def get_many(con: duckdb.DuckDBPyConnection, numbers: Iterable[str]) -> dict[str, PackageRow]:
    wanted = [[n] for n in dict.fromkeys(numbers)]
    if not wanted:
        return {}
    # Staged, not a temp table filled row by row: a fulfil wave asks for dozens.
    with staged(con, "wanted_packages", {"n": TEXT}, wanted):
        rows = con.execute(
            f"SELECT {', '.join('p.' + c for c in _COLUMNS)} FROM despatch_packages p "
            "JOIN wanted_packages w ON w.n = p.package_number"
        ).fetchall()
    return {r.package_number: r for r in map(_row, rows)}


def for_orders(con: duckdb.DuckDBPyConnection, order_ids: Iterable[str]) -> dict[str, list[PackageRow]]:
    """Every package of these orders, in despatch order (time, then package number)."""
    wanted = [[i] for i in dict.fromkeys(order_ids)]
    if not wanted:
        return {}
    with staged(con, "wanted_package_orders", {"id": TEXT}, wanted):
        rows = con.execute(
            f"SELECT {', '.join('p.' + c for c in _COLUMNS)} FROM despatch_packages p JOIN wanted_package_orders w "
            "ON w.id = p.shopify_order_id ORDER BY p.despatched_at, p.package_number"
        ).fetchall()
    found: dict[str, list[PackageRow]] = {}
    for row in map(_row, rows):
        found.setdefault(row.shopify_order_id or "", []).append(row)
    return found


def open_packages(
    con: duckdb.DuckDBPyConnection, states: Sequence[str], limit: int = 2000
) -> list[tuple[str, str]]:
    """(order id, package number) of packages in one of `states`, least recently touched first."""
    placeholders = ", ".join("?" for _ in states)
    rows = con.execute(
        f"SELECT shopify_order_id, package_number FROM despatch_packages "
        f"WHERE state IN ({placeholders}) AND shopify_order_id IS NOT NULL "
        "ORDER BY updated_at, package_number LIMIT ?",
        [*states, limit],
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def awaiting_tracking(
    con: duckdb.DuckDBPyConnection,
    states: Sequence[str],
    limit: int = 1000,
    seen_since: datetime | None = None,
) -> list[str]:
    """Package numbers still without a tracking number (re-read by number): oldest first, or with
    `seen_since` only those read since then, newest first."""
    placeholders = ", ".join("?" for _ in states)
    since = "" if seen_since is None else "AND first_seen_at >= ? "
    order = "first_seen_at, package_number" if seen_since is None else "first_seen_at DESC, package_number"
    rows = con.execute(
        f"SELECT package_number FROM despatch_packages WHERE tracking_number IS NULL "
        f"AND state IN ({placeholders}) {since}ORDER BY {order} LIMIT ?",
        [*states, *([] if seen_since is None else [to_naive_utc(seen_since)]), limit],
    ).fetchall()
    return [r[0] for r in rows]


def set_state(
    con: duckdb.DuckDBPyConnection,
    package_number: str,
    state: str,
    reason: str | None = None,
    line_quantities: dict[str, int] | None = None,
    excess_items: dict[str, int] | None = None,
) -> None:
    """Move a package on; `line_quantities` (the line units it accounts for) and `excess_items` (item
    units it shipped that no line accounts for) are set when it settles (and cleared with `{}` when
    a fulfilment thought sent turns out not to exist)."""
    con.execute(
        "UPDATE despatch_packages SET state = ?, state_reason = ?, updated_at = ?, "
        "line_quantities = coalesce(?, line_quantities), excess_items = coalesce(?, excess_items) "
        "WHERE package_number = ?",
        [
            state,
            reason,
            utcnow(),
            None if line_quantities is None else json.dumps(line_quantities),
            None if excess_items is None else json.dumps(excess_items, ensure_ascii=False),
            package_number,
        ],
    )


def carry(con: duckdb.DuckDBPyConnection, carried: Iterable[tuple[str, str, str | None]]) -> None:
    """(pooled package, the package whose fulfilment carries its tracking, the number it carries):
    written ahead with that fulfilment, so a send that fails leaves them to the same package's next
    attempt. `updated_at` is left alone: this is no move of the pooled package's own."""
    rows = [[by, number, pooled] for pooled, by, number in carried]
    if rows:
        con.executemany(
            "UPDATE despatch_packages SET carried_by = ?, carried_number = ? WHERE package_number = ?", rows
        )


def carriers_with_new_tracking(con: duckdb.DuckDBPyConnection, limit: int = 500) -> list[str]:
    """Packages whose created Shopify fulfilment carries a pooled package's tracking number that
    arrived after it was sent (not the number it carries, nor one Shopify refused for it)."""
    rows = con.execute(
        "SELECT DISTINCT q.carried_by FROM despatch_packages q JOIN shopify_fulfilments f "
        "ON f.package_number = q.carried_by WHERE f.state = 'created' AND q.tracking_number IS NOT NULL "
        "AND q.tracking_number IS DISTINCT FROM q.carried_number ORDER BY q.carried_by LIMIT ?",
        [limit],
    ).fetchall()
    return [r[0] for r in rows]


def carried_by(con: duckdb.DuckDBPyConnection, carriers: Iterable[str]) -> dict[str, list[PackageRow]]:
    """Carrying package → the pooled packages whose tracking its fulfilment carries, in despatch order."""
    wanted = list(dict.fromkeys(carriers))
    if not wanted:
        return {}
    rows = con.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM despatch_packages WHERE list_contains(?, carried_by) "
        "ORDER BY despatched_at, package_number",
        [wanted],
    ).fetchall()
    found: dict[str, list[PackageRow]] = {}
    for row in map(_row, rows):
        found.setdefault(row.carried_by or "", []).append(row)
    return found


def attach_orders(con: duckdb.DuckDBPyConnection, matches: dict[str, str]) -> None:
    """Set the Shopify order of packages whose sales order became known (package → order id)."""
    if matches:
        con.executemany(
            "UPDATE despatch_packages SET shopify_order_id = ?, updated_at = ? WHERE package_number = ?",
            [[oid, utcnow(), number] for number, oid in matches.items()],
        )


def unmatched(con: duckdb.DuckDBPyConnection, limit: int = 1000) -> list[PackageRow]:
    rows = con.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM despatch_packages WHERE shopify_order_id IS NULL "
        "ORDER BY first_seen_at LIMIT ?",
        [limit],
    ).fetchall()
    return [_row(r) for r in rows]


def state_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(
        con.execute("SELECT state, count(*) FROM despatch_packages GROUP BY state ORDER BY state").fetchall()
    )


def not_settled_before(
    con: duckdb.DuckDBPyConnection, seen_before: datetime, settled: Sequence[str], pooled: str | None = None
) -> list[tuple[str, str, str | None, str, str | None]]:
    """(package, sales order, order id, state, reason) read before a time and still not settled;
    with `pooled` (that state's name), also those in it that no fulfilment carries yet."""
    placeholders = ", ".join("?" for _ in settled)
    uncarried = "" if pooled is None else " OR (state = ? AND carried_by IS NULL)"
    return con.execute(
        "SELECT package_number, sales_order_number, shopify_order_id, state, state_reason FROM despatch_packages "
        f"WHERE first_seen_at <= ? AND (state NOT IN ({placeholders}){uncarried}) ORDER BY first_seen_at",
        [to_naive_utc(seen_before), *settled, *([] if pooled is None else [pooled])],
    ).fetchall()


@dataclass(frozen=True)
class StateChange:
    """One package's `set_state` arguments, for `set_states`."""

    package_number: str
    state: str
    reason: str | None = None
    line_quantities: dict[str, int] | None = None
    excess_items: dict[str, int] | None = None


_STATE_TYPES = {
    "package_number": TEXT,
    "state": TEXT,
    "reason": TEXT,
    "line_quantities": TEXT,
    "excess_items": TEXT,
}


def set_states(con: duckdb.DuckDBPyConnection, changes: Iterable[StateChange]) -> int:
    """`set_state` for many packages in one statement (a fulfil wave settles dozens at once: one
    UPDATE a package held the ledger for most of the wave). A package named twice keeps its last."""
    last = {c.package_number: c for c in changes}
    rows = [
        [
            c.package_number,
            c.state,
            c.reason,
            None if c.line_quantities is None else json.dumps(c.line_quantities),
            None if c.excess_items is None else json.dumps(c.excess_items, ensure_ascii=False),
        ]
        for c in last.values()
    ]
    if not rows:
        return 0
    with staged(con, "package_states_in", _STATE_TYPES, rows):
        con.execute(
            "UPDATE despatch_packages AS d SET state = s.state, state_reason = s.reason, updated_at = ?, "
            "line_quantities = coalesce(s.line_quantities::JSON, d.line_quantities), "
            "excess_items = coalesce(s.excess_items::JSON, d.excess_items) "
            "FROM package_states_in AS s WHERE d.package_number = s.package_number",
            [utcnow()],
        )
    return len(rows)


def set_despatch_states(con: duckdb.DuckDBPyConnection, states: Mapping[str, str]) -> int:
    """Orders' despatch states (order id → state) in one statement: a fulfil wave moves dozens."""
    if not states:
        return 0
    with staged(con, "despatch_states_in", {"id": TEXT, "state": TEXT}, list(states.items())):
        con.execute(
            "UPDATE orders AS o SET despatch_state = s.state FROM despatch_states_in AS s "
            "WHERE o.shopify_order_id = s.id"
        )
    return len(states)


def despatch_states(con: duckdb.DuckDBPyConnection, order_ids: Iterable[str]) -> dict[str, str | None]:
    wanted = [[i] for i in dict.fromkeys(order_ids)]
    if not wanted:
        return {}
    with staged(con, "wanted_despatch_states", {"id": TEXT}, wanted):
        return dict(
            con.execute(
                "SELECT o.shopify_order_id, o.despatch_state FROM orders o "
                "JOIN wanted_despatch_states w ON w.id = o.shopify_order_id"
            ).fetchall()
        )


def despatch_state_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(
        con.execute(
            "SELECT despatch_state, count(*) FROM orders WHERE despatch_state IS NOT NULL "
            "GROUP BY despatch_state ORDER BY despatch_state"
        ).fetchall()
    )


def orders_despatched_since(con: duckdb.DuckDBPyConnection, since: datetime) -> list[str]:
    """Orders with a package read at or after `since` (the line-level check's scope)."""
    rows = con.execute(
        "SELECT DISTINCT shopify_order_id FROM despatch_packages WHERE shopify_order_id IS NOT NULL "
        "AND first_seen_at >= ? ORDER BY 1",
        [to_naive_utc(since)],
    ).fetchall()
    return [r[0] for r in rows]
