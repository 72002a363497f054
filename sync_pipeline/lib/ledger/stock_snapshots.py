"""Peoplevox availability: snapshots as read, the accepted figures, and the callback queue.

A snapshot is one read of the Item inventory summary (`full`: every item; `items`: those callbacks
named). Its rows are kept for drift analysis until the retention prunes them. Only an accepted
snapshot (plausible, or accepted by a person) moves `stock_available`, the figures targets are
computed from; a suspect one changes nothing until someone accepts it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime

import duckdb

from sync_pipeline.lib.domain.stock_feed import EarlierRead
from sync_pipeline.lib.ledger.bulk import BIGINT, INT, TEXT, staged
from sync_pipeline.lib.ledger.records import to_naive_utc

ACCEPTED, SUSPECT, ACCEPTED_BY_PERSON, SUPERSEDED = "accepted", "suspect", "accepted_by_person", "superseded"
USABLE = (ACCEPTED, ACCEPTED_BY_PERSON)


@dataclass(frozen=True)
class SnapshotRow:
    """One row of Peoplevox's Item inventory summary: an item at a site."""

    item_code: str
    site: str
    available: int
    on_hand: int | None = None
    allocated: int | None = None


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: int
    kind: str
    taken_at: datetime
    partition_key: str | None
    items_asked: int | None
    rows_read: int
    total_available: int
    verdict: str
    verdict_reason: str | None
    compared: int | None
    zero_drops: int | None
    total_before: int | None
    decided_by: str | None
    decided_at: datetime | None
    pushed_at: datetime | None
    run_id: str | None


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reason: str | None
    compared: int
    zero_drops: int
    total_before: int


_COLUMNS = ", ".join(f.name for f in fields(Snapshot))
_ROW_COLUMNS = {"item_code": TEXT, "site": TEXT, "available": INT, "on_hand": INT, "allocated": INT}


def record(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    taken_at: datetime,
    rows: Iterable[SnapshotRow],
    verdict: Verdict,
    partition_key: str | None = None,
    items_asked: int | None = None,
    run_id: str | None = None,
) -> int:
    """Store a snapshot and its rows; an accepted one updates the figures at once."""
    rows = list(rows)
    found = con.execute(
        "INSERT INTO stock_snapshots (kind, taken_at, partition_key, items_asked, rows_read, total_available, "
        "verdict, verdict_reason, compared, zero_drops, total_before, run_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING snapshot_id",
        [
            kind, to_naive_utc(taken_at), partition_key, items_asked, len(rows),
            sum(max(0, r.available) for r in rows), verdict.verdict, verdict.reason,
            verdict.compared, verdict.zero_drops, verdict.total_before, run_id,
        ],
    ).fetchone()  # fmt: skip
    assert found is not None
    snapshot_id = int(found[0])
    data = [(r.item_code, r.site, r.available, r.on_hand, r.allocated) for r in rows]
    with staged(con, "snapshot_rows_in", _ROW_COLUMNS, data):
        con.execute(
            "INSERT INTO stock_snapshot_rows SELECT ?, item_code, site, available, on_hand, allocated "
            "FROM snapshot_rows_in",
            [snapshot_id],
        )
    if verdict.verdict in USABLE:
        apply(con, snapshot_id)
    return snapshot_id


def apply(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> None:
    """Make a snapshot's figures the accepted ones. A full snapshot also zeroes item-sites it left
    out (an item Peoplevox no longer reports has nothing to sell)."""
    snap = get(con, snapshot_id)
    con.execute(
        "INSERT OR REPLACE INTO stock_available SELECT item_code, site, available, snapshot_id, ? "
        "FROM stock_snapshot_rows WHERE snapshot_id = ?",
        [snap.taken_at, snapshot_id],
    )
    if snap.kind == "full":
        con.execute(
            "UPDATE stock_available SET available = 0, snapshot_id = ?, read_at = ? WHERE snapshot_id <> ?",
            [snapshot_id, snap.taken_at, snapshot_id],
        )


def get(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> Snapshot:
    row = con.execute(
        f"SELECT {_COLUMNS} FROM stock_snapshots WHERE snapshot_id = ?", [snapshot_id]
    ).fetchone()
    if row is None:
        raise KeyError(f"no stock snapshot {snapshot_id}")
    return Snapshot(*row)


def latest(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[Snapshot]:
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM stock_snapshots ORDER BY snapshot_id DESC LIMIT ?", [limit]
    ).fetchall()
    return [Snapshot(*r) for r in rows]


def for_run(con: duckdb.DuckDBPyConnection, run_id: str) -> list[Snapshot]:
    """The snapshots a Dagster run took, newest first."""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM stock_snapshots WHERE run_id = ? ORDER BY snapshot_id DESC", [run_id]
    ).fetchall()
    return [Snapshot(*r) for r in rows]


def suspects(con: duckdb.DuckDBPyConnection) -> list[Snapshot]:
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM stock_snapshots WHERE verdict = ? ORDER BY snapshot_id", [SUSPECT]
    ).fetchall()
    return [Snapshot(*r) for r in rows]


def decide(
    con: duckdb.DuckDBPyConnection, snapshot_id: int, verdict: str, by: str | None, at: datetime
) -> None:
    con.execute(
        "UPDATE stock_snapshots SET verdict = ?, decided_by = ?, decided_at = ? WHERE snapshot_id = ?",
        [verdict, by, to_naive_utc(at), snapshot_id],
    )


def supersede_suspects(con: duckdb.DuckDBPyConnection, before_id: int, at: datetime) -> int:
    """A plausible full snapshot makes every earlier suspect one moot."""
    rows = con.execute(
        "UPDATE stock_snapshots SET verdict = ?, decided_at = ?, decided_by = 'a later plausible snapshot' "
        "WHERE verdict = ? AND snapshot_id < ? RETURNING snapshot_id",
        [SUPERSEDED, to_naive_utc(at), SUSPECT, before_id],
    ).fetchall()
    return len(rows)


def unpushed(con: duckdb.DuckDBPyConnection) -> list[Snapshot]:
    """Accepted snapshots whose figures no push run has taken yet, oldest first."""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM stock_snapshots WHERE pushed_at IS NULL AND verdict IN (?, ?) "
        "ORDER BY snapshot_id",
        list(USABLE),
    ).fetchall()
    return [Snapshot(*r) for r in rows]


def mark_pushed(con: duckdb.DuckDBPyConnection, snapshot_ids: Collection[int], at: datetime) -> None:
    if snapshot_ids:
        placeholders = ", ".join("?" for _ in snapshot_ids)
        con.execute(
            f"UPDATE stock_snapshots SET pushed_at = ? WHERE snapshot_id IN ({placeholders})",
            [to_naive_utc(at), *snapshot_ids],
        )


def items_of(con: duckdb.DuckDBPyConnection, snapshot_ids: Collection[int]) -> set[str]:
    if not snapshot_ids:
        return set()
    placeholders = ", ".join("?" for _ in snapshot_ids)
    rows = con.execute(
        f"SELECT DISTINCT item_code FROM stock_snapshot_rows WHERE snapshot_id IN ({placeholders})",
        list(snapshot_ids),
    ).fetchall()
    return {r[0] for r in rows}


def accepted_figures(
    con: duckdb.DuckDBPyConnection, item_codes: Collection[str] | None = None
) -> dict[tuple[str, str], int]:
    """Accepted availability per (item code, site); all of it, or only these items."""
    if item_codes is None:
        rows = con.execute("SELECT item_code, site, available FROM stock_available").fetchall()
    else:
        with staged(con, "wanted_items", {"item_code": TEXT}, [(c,) for c in item_codes]):
            rows = con.execute(
                "SELECT a.item_code, a.site, a.available FROM stock_available a "
                "JOIN wanted_items w ON w.item_code = a.item_code"
            ).fetchall()
    return {(r[0], r[1]): int(r[2]) for r in rows}


def figure_count(con: duckdb.DuckDBPyConnection) -> int:
    """Item-site figures accepted: about the rows a read of every item returns."""
    found = con.execute("SELECT count(*) FROM stock_available").fetchone()
    return int(found[0]) if found else 0


def accepted_versions(
    con: duckdb.DuckDBPyConnection, item_codes: Collection[str] | None = None
) -> dict[tuple[str, str], int]:
    """The snapshot each accepted (item code, site) figure came from; all of them, or these items'."""
    sql = "SELECT a.item_code, a.site, a.snapshot_id FROM stock_available a"
    if item_codes is None:
        rows = con.execute(sql).fetchall()
    else:
        with staged(con, "wanted_items", {"item_code": TEXT}, [(c,) for c in item_codes]):
            rows = con.execute(sql + " JOIN wanted_items w ON w.item_code = a.item_code").fetchall()
    return {(r[0], r[1]): int(r[2]) for r in rows}


def replaced_since(
    con: duckdb.DuckDBPyConnection, versions: Mapping[tuple[str, str], int]
) -> set[tuple[str, str]]:
    """Of these figures ((item code, site) → the snapshot a push computed from), those a later
    accepted snapshot has replaced since: another run read them afresh, and pushes them."""
    data = [(code, site, version) for (code, site), version in versions.items()]
    if not data:
        return set()
    with staged(con, "computed_from", {"item_code": TEXT, "site": TEXT, "snapshot_id": BIGINT}, data):
        rows = con.execute(
            "SELECT a.item_code, a.site FROM stock_available a JOIN computed_from c "
            "ON c.item_code = a.item_code AND c.site = a.site WHERE a.snapshot_id <> c.snapshot_id"
        ).fetchall()
    return {(r[0], r[1]) for r in rows}


def read_times(
    con: duckdb.DuckDBPyConnection, item_codes: Collection[str] | None = None
) -> dict[str, datetime]:
    """When each item's accepted figures (all items, or only these) were read: the oldest over its
    sites (naive UTC)."""
    sql = "SELECT a.item_code, min(a.read_at) FROM stock_available a"
    if item_codes is None:
        rows = con.execute(sql + " GROUP BY a.item_code").fetchall()
    else:
        with staged(con, "wanted_items", {"item_code": TEXT}, [(c,) for c in item_codes]):
            rows = con.execute(
                sql + " JOIN wanted_items w ON w.item_code = a.item_code GROUP BY a.item_code"
            ).fetchall()
    return {r[0]: r[1] for r in rows}


def totals_by_site(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> dict[str, int]:
    rows = con.execute(
        "SELECT site, sum(greatest(available, 0)) FROM stock_snapshot_rows WHERE snapshot_id = ? "
        "GROUP BY site ORDER BY site",
        [snapshot_id],
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def accepted_site_totals(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute(
        "SELECT site, sum(greatest(available, 0)) FROM stock_available GROUP BY site ORDER BY site"
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def previous_full(con: duckdb.DuckDBPyConnection, before_id: int | None = None) -> Snapshot | None:
    """The newest usable full snapshot (older than `before_id`, when given)."""
    bound = "" if before_id is None else " AND snapshot_id < ?"
    row = con.execute(
        f"SELECT {_COLUMNS} FROM stock_snapshots WHERE kind = 'full' AND verdict IN (?, ?){bound} "
        "ORDER BY snapshot_id DESC LIMIT 1",
        [*USABLE] + ([] if before_id is None else [before_id]),
    ).fetchone()
    return Snapshot(*row) if row else None


def recent_item_reads(con: duckdb.DuckDBPyConnection, since: datetime) -> list[EarlierRead]:
    """Accepted incremental reads taken since `since` and after the last usable full snapshot or
    a person's acceptance (either vouched for every figure before it), oldest first."""
    rows = con.execute(
        "SELECT taken_at, coalesce(compared, 0), coalesce(zero_drops, 0) FROM stock_snapshots "
        "WHERE kind = 'items' AND verdict = ? AND taken_at >= ? AND snapshot_id > coalesce(("
        "  SELECT max(snapshot_id) FROM stock_snapshots "
        "  WHERE (kind = 'full' AND verdict IN (?, ?)) OR verdict = ?), 0) "
        "ORDER BY snapshot_id",
        [ACCEPTED, to_naive_utc(since), *USABLE, ACCEPTED_BY_PERSON],
    ).fetchall()
    return [EarlierRead(r[0], int(r[1]), int(r[2])) for r in rows]


def prune(con: duckdb.DuckDBPyConnection, taken_before: datetime) -> int:
    """Drop the history older than the retention (never a snapshot still waiting for a person)."""
    cutoff = to_naive_utc(taken_before)
    con.execute(
        "DELETE FROM stock_snapshot_rows WHERE snapshot_id IN (SELECT snapshot_id FROM stock_snapshots "
        "WHERE taken_at < ? AND verdict <> ?)",
        [cutoff, SUSPECT],
    )
    rows = con.execute(
        "DELETE FROM stock_snapshots WHERE taken_at < ? AND verdict <> ? RETURNING snapshot_id",
        [cutoff, SUSPECT],
    ).fetchall()
    return len(rows)


# -- items named by callbacks ---------------------------------------------------------------
def hint(con: duckdb.DuckDBPyConnection, hints: Mapping[str, int], at: datetime) -> int:
    """Queue items AvailabilityChanges callbacks named (`hints`: item code → callbacks).

    An item's last hint never moves back: a push queues what it left stamped with its own start,
    which may be before a later hint (a status run's, stamped when queued) and before a read that
    began meanwhile; taking the older stamp let that read clear the later hint unread."""
    data = [(code, n) for code, n in hints.items()]
    if not data:
        return 0
    with staged(con, "hinted_items", {"item_code": TEXT, "hints": INT}, data):
        con.execute(
            "INSERT INTO stock_dirty_items SELECT item_code, ?, ?, hints FROM hinted_items "
            "ON CONFLICT (item_code) DO UPDATE SET "
            "last_hinted_at = greatest(stock_dirty_items.last_hinted_at, excluded.last_hinted_at), "
            "hints = stock_dirty_items.hints + excluded.hints",
            [to_naive_utc(at), to_naive_utc(at)],
        )
    return len(data)


def dirty(con: duckdb.DuckDBPyConnection) -> dict[str, datetime]:
    """Queued item codes and when each was first named."""
    rows = con.execute("SELECT item_code, first_hinted_at FROM stock_dirty_items").fetchall()
    return {r[0]: r[1] for r in rows}


def clear_dirty(con: duckdb.DuckDBPyConnection, item_codes: Collection[str], read_started: datetime) -> int:
    """Items re-read since they were last named leave the queue; one named again meanwhile stays."""
    if not item_codes:
        return 0
    with staged(con, "read_items", {"item_code": TEXT}, [(c,) for c in item_codes]):
        rows = con.execute(
            "DELETE FROM stock_dirty_items WHERE item_code IN (SELECT item_code FROM read_items) "
            "AND last_hinted_at <= ? RETURNING item_code",
            [to_naive_utc(read_started)],
        ).fetchall()
    return len(rows)


def clear_all_dirty(con: duckdb.DuckDBPyConnection, read_started: datetime) -> int:
    rows = con.execute(
        "DELETE FROM stock_dirty_items WHERE last_hinted_at <= ? RETURNING item_code",
        [to_naive_utc(read_started)],
    ).fetchall()
    return len(rows)
