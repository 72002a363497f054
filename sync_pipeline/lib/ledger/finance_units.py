"""Warehouse units for finance: despatched packages and processed returns as flat unit rows.

`despatch_packages` keeps a package's units as JSON (what the despatches flow needs). Parsing JSON
for a million orders on every reconciliation would cost tens of seconds, so the finance flow keeps
`finance_package_units` in step incrementally: every package changed since the last pass is
rewritten (a settled package as the Shopify line units it accounts for, plus, as item codes, the
units it shipped beyond anything the order has; one not yet settled as its item codes), so the
despatched units are what Peoplevox shipped. Returns read from Peoplevox land in `pvx_returns` as reported, and in
`pvx_return_units` as Shopify line units.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime

import duckdb

from sync_pipeline.lib.ledger import cursors
from sync_pipeline.lib.ledger.records import gid_number, to_naive_utc, utcnow

PACKAGE_UNITS_CURSOR = "finance:package_units"


def refresh_package_units(con: duckdb.DuckDBPyConnection, settled_states: Sequence[str]) -> int:
    """Rewrite the unit rows of every package changed since the last pass; returns how many."""
    stored = cursors.get(con, PACKAGE_UNITS_CURSOR)
    since = datetime.fromisoformat(stored) if stored else datetime(1970, 1, 1)
    newest = con.execute(
        "SELECT max(updated_at), count(*) FROM despatch_packages WHERE updated_at >= ?", [since]
    ).fetchone()
    if not newest or not newest[1]:
        return 0
    placeholders = ", ".join("?" for _ in settled_states)
    changed = "SELECT package_number FROM despatch_packages WHERE updated_at >= ?"
    con.execute(f"DELETE FROM finance_package_units WHERE package_number IN ({changed})", [since])
    # The order's date comes from the orders flow's row (every package we know the order of has
    # one); the keys are the numeric tails of Shopify's gids.
    source = (
        "SELECT {key} AS order_key, coalesce(o.order_date, p.despatch_date) AS order_date, p.package_number, "
        "{line}, {code}, e.value::INTEGER, p.despatched_at "
        "FROM despatch_packages p LEFT JOIN orders o ON o.shopify_order_id = p.shopify_order_id, "
        "json_each({json}) e "
        "WHERE p.updated_at >= ? AND p.shopify_order_id IS NOT NULL AND p.state {test} ({states})"
    )
    key = _gid_number("p.shopify_order_id")
    settled = source.format(key=key, line=_gid_number("e.key"), code="NULL", json="p.line_quantities",
                            test="IN", states=placeholders)  # fmt: skip
    # Over-despatch: units no Shopify line accounts for still left the warehouse (null before 0009).
    excess = source.format(key=key, line="NULL", code="e.key", json="coalesce(p.excess_items, '{}')",
                           test="IN", states=placeholders)  # fmt: skip
    waiting = source.format(key=key, line="NULL", code="e.key", json="p.items", test="NOT IN",
                            states=placeholders)  # fmt: skip
    con.execute(
        f"INSERT INTO finance_package_units {settled} UNION ALL {excess} UNION ALL {waiting}",
        [since, *settled_states, since, *settled_states, since, *settled_states],
    )
    cursors.put(con, PACKAGE_UNITS_CURSOR, newest[0].isoformat())
    return int(newest[1])


def orders_with_waiting_packages(con: duckdb.DuckDBPyConnection, settled_states: Sequence[str]) -> list[str]:
    """Our orders with a package the despatches flow has not settled yet."""
    placeholders = ", ".join("?" for _ in settled_states)
    rows = con.execute(
        "SELECT DISTINCT shopify_order_id FROM despatch_packages "
        f"WHERE shopify_order_id IS NOT NULL AND state NOT IN ({placeholders}) ORDER BY 1",
        list(settled_states),
    ).fetchall()
    return [r[0] for r in rows]


def replace_waiting_units(
    con: duckdb.DuckDBPyConnection, units: Mapping[str, tuple[Mapping[str, int], Mapping[str, int]]]
) -> int:
    """`{package number: ({line item id: line units}, {item code: units})}` replaces the unit rows of
    packages not settled yet: the line units they complete, and as item codes what no line uses.
    Only packages whose rows differ from those held are written (every reconciliation counts every
    waiting package again; most have not changed); returns how many were."""
    if not units:
        return 0
    wanted: dict[str, list[tuple[int | None, str | None, int]]] = {
        n: sorted(
            [(gid_number(line), None, u) for line, u in lines.items() if u]
            + [(None, code, u) for code, u in items.items() if u],
            key=repr,
        )
        for n, (lines, items) in units.items()
    }
    con.execute("CREATE OR REPLACE TEMP TABLE waiting_numbers (package_number VARCHAR)")
    con.executemany("INSERT INTO waiting_numbers VALUES (?)", [[n] for n in units])
    held: dict[str, list[tuple[int | None, str | None, int]]] = {}
    for n, line, code, u in con.execute(
        "SELECT u.package_number, u.line_key, u.item_code, u.units FROM finance_package_units u "
        "JOIN waiting_numbers w USING (package_number)"
    ).fetchall():
        held.setdefault(n, []).append((line, code, u))
    changed = [n for n, rows in wanted.items() if sorted(held.get(n, []), key=repr) != rows]
    if not changed:
        return 0
    con.executemany("DELETE FROM finance_package_units WHERE package_number = ?", [[n] for n in changed])
    rows = [[n, line, code, u] for n in changed for line, code, u in wanted[n]]
    if not rows:
        return len(changed)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE new_package_units (package_number VARCHAR, line_key BIGINT, "
        "item_code VARCHAR, units INTEGER)"
    )
    con.executemany("INSERT INTO new_package_units VALUES (?, ?, ?, ?)", rows)
    con.execute(
        f"INSERT INTO finance_package_units SELECT {_gid_number('p.shopify_order_id')}, "
        "coalesce(o.order_date, p.despatch_date), p.package_number, n.line_key, n.item_code, n.units, "
        "p.despatched_at FROM new_package_units n JOIN despatch_packages p USING (package_number) "
        "LEFT JOIN orders o ON o.shopify_order_id = p.shopify_order_id"
    )
    return len(changed)


def _gid_number(column: str) -> str:
    """SQL for the numeric tail of a Shopify gid (`gid://shopify/Order/123` → 123)."""
    return f"CAST(regexp_extract({column}, '(\\d+)$', 1) AS BIGINT)"


@dataclass(frozen=True)
class ReturnRow:
    """One row of Peoplevox's Return summary: a return code and one item code in it."""

    return_code: str
    item_code: str
    sales_order_number: str
    shopify_order_id: str | None
    quantity: int
    reason: str | None
    condition: str | None
    reusable: bool
    returned_at: datetime | None
    site: str | None


_RETURN_COLUMNS = [f.name for f in fields(ReturnRow)]


def put_returns(con: duckdb.DuckDBPyConnection, rows: Iterable[ReturnRow]) -> list[ReturnRow]:
    """Store one read's rows of the Return summary; returns the rows that added units, each with
    `quantity` = the units it added.

    A row is one item of one return as graded (`condition`, '' when none is given). The read holds
    every current row of each return it names (`read_returns` reads them by return code), so the
    rows of one key are summed and that sum REPLACES the stored figure: a second tee booked later
    under the same code and grading raises 1 to 2, and reading the return again changes nothing.
    (Insert-once dropped the later tee; adding would count a re-read twice.)"""
    wanted: dict[tuple[str, str, str], ReturnRow] = {}
    for row in rows:
        key = (row.return_code, row.item_code, row.condition or "")
        seen = wanted.get(key)
        wanted[key] = (
            replace(seen, quantity=seen.quantity + row.quantity) if seen else replace(row, condition=key[2])
        )
    if not wanted:
        return []
    con.execute("CREATE OR REPLACE TEMP TABLE wanted_returns (code VARCHAR, item VARCHAR, cond VARCHAR)")
    con.executemany("INSERT INTO wanted_returns VALUES (?, ?, ?)", [list(k) for k in wanted])
    stored = {
        (code, item, cond): quantity
        for code, item, cond, quantity in con.execute(
            "SELECT r.return_code, r.item_code, r.condition, r.quantity FROM pvx_returns r "
            "JOIN wanted_returns w ON w.code = r.return_code AND w.item = r.item_code AND w.cond = r.condition"
        ).fetchall()
    }
    new = [r for key, r in wanted.items() if key not in stored]
    changed = [r for key, r in wanted.items() if key in stored and stored[key] != r.quantity]
    if new:
        now = utcnow()
        con.executemany(
            f"INSERT INTO pvx_returns ({', '.join(_RETURN_COLUMNS)}, first_seen_at) "
            f"VALUES ({', '.join('?' for _ in _RETURN_COLUMNS)}, ?)",
            [[*(to_naive_utc(v) if isinstance(v, datetime) else v for v in (getattr(r, c) for c in _RETURN_COLUMNS)),
              now] for r in new],
        )  # fmt: skip
    if changed:
        con.executemany(
            "UPDATE pvx_returns SET quantity = ? WHERE return_code = ? AND item_code = ? AND condition = ?",
            [[r.quantity, r.return_code, r.item_code, r.condition] for r in changed],
        )
    added = [replace(r, quantity=r.quantity - stored[(r.return_code, r.item_code, r.condition or "")])
             for r in changed]  # fmt: skip
    return new + added


def attach_return_orders(con: duckdb.DuckDBPyConnection, matches: Mapping[str, str]) -> None:
    """Set the Shopify order of returns whose sales order became known (sales order → order id)."""
    if matches:
        con.executemany(
            "UPDATE pvx_returns SET shopify_order_id = ? WHERE sales_order_number = ? AND shopify_order_id IS NULL",
            [[oid, number] for number, oid in matches.items()],
        )


def unmatched_return_orders(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT DISTINCT sales_order_number FROM pvx_returns WHERE shopify_order_id IS NULL ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def returns_of(con: duckdb.DuckDBPyConnection, order_ids: Iterable[str]) -> dict[str, list[ReturnRow]]:
    """Every return row of these orders, oldest return first."""
    wanted = [[i] for i in dict.fromkeys(order_ids)]
    if not wanted:
        return {}
    con.execute("CREATE OR REPLACE TEMP TABLE wanted_return_orders (id VARCHAR)")
    con.executemany("INSERT INTO wanted_return_orders VALUES (?)", wanted)
    rows = con.execute(
        f"SELECT {', '.join('r.' + c for c in _RETURN_COLUMNS)} FROM pvx_returns r "
        "JOIN wanted_return_orders w ON w.id = r.shopify_order_id "
        "ORDER BY r.returned_at, r.return_code, r.item_code, r.condition"
    ).fetchall()
    found: dict[str, list[ReturnRow]] = {}
    for values in rows:
        row = ReturnRow(*values)
        found.setdefault(row.shopify_order_id or "", []).append(row)
    return found


def replace_return_units(
    con: duckdb.DuckDBPyConnection,
    units: Mapping[str, Mapping[str, Mapping[str, int]]],
    reusable: Mapping[str, Mapping[str, Mapping[str, int]]] | None = None,
    unmatched: Mapping[str, Mapping[str, Mapping[str, int]]] | None = None,
) -> None:
    """`{order id: {return code: {line item id: units}}}` replaces those orders' return units (dated
    by the order's own date, as the orders flow recorded it); `reusable`, in the same shape, says how
    many of those units Peoplevox graded reusable (back on the shelf); `unmatched`,
    `{order id: {return code: {item code: units}}}`, the items no line of the order is made of (rows
    without a line)."""
    if not units:
        return
    reusable, unmatched = reusable or {}, unmatched or {}
    keys = [[gid_number(oid)] for oid in units]
    con.executemany("DELETE FROM pvx_return_units WHERE order_key = ?", keys)
    rows = [
        [gid_number(oid), oid, code, gid_number(line), None, n,
         reusable.get(oid, {}).get(code, {}).get(line, 0)]
        for oid, by_return in units.items()
        for code, lines in by_return.items()
        for line, n in lines.items()
        if n
    ]  # fmt: skip
    rows += [
        [gid_number(oid), oid, code, None, item, n, 0]
        for oid, by_return in unmatched.items()
        if oid in units
        for code, items in by_return.items()
        for item, n in items.items()
        if n
    ]
    if not rows:
        return
    con.execute(
        "CREATE OR REPLACE TEMP TABLE new_return_units (order_key BIGINT, shopify_order_id VARCHAR, "
        "return_code VARCHAR, line_key BIGINT, item_code VARCHAR, units INTEGER, reusable_units INTEGER)"
    )
    con.executemany("INSERT INTO new_return_units VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute(
        "INSERT INTO pvx_return_units (order_key, order_date, return_code, line_key, item_code, units, "
        "reusable_units) SELECT n.order_key, coalesce(o.order_date, f.order_date), n.return_code, n.line_key, "
        "n.item_code, n.units, n.reusable_units FROM new_return_units n "
        "LEFT JOIN orders o ON o.shopify_order_id = n.shopify_order_id "
        "LEFT JOIN finance_orders f ON f.order_key = n.order_key"
    )


def newest_return_at(con: duckdb.DuckDBPyConnection) -> datetime | None:
    row = con.execute("SELECT max(returned_at) FROM pvx_returns").fetchone()
    return row[0] if row else None
