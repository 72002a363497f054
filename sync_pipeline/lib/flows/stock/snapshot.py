"""Peoplevox availability into the ledger, through the circuit breaker.

`take_full` reads every item at every site (the hourly reconcile); `take_queued` re-reads the items
callbacks named, fast sellers first (whether a slow seller's push waits is the push's decision,
`stock_priority.waits_for_room`: it depends on Shopify's bucket, which only the push sees). Either way
the read is compared with the last accepted figures (`lib/domain/stock_feed.py`): a plausible read
becomes the figures targets are computed from; a suspect one changes nothing, opens a top-priority
`stock_feed_suspect` exception for warehouse ops, and stops every push until a person accepts it
or a later full read is plausible again.

Each step opens the ledger a few times only (before the read, after it), never across the read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.stock_feed import FeedVerdict, assess_feed, assess_recent
from sync_pipeline.lib.domain.stock_priority import fastest_first
from sync_pipeline.lib.flows.stock import states
from sync_pipeline.lib.flows.stock.demand import Demand, demand_from
from sync_pipeline.lib.flows.stock.hints import INBOX_CURSOR, HintReport, queue, read_inbox
from sync_pipeline.lib.flows.stock.ports import ReadCost, StockSource
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, stock_pushes, stock_snapshots
from sync_pipeline.lib.ledger import catalogue as ledger_catalogue
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger.stock_snapshots import SnapshotRow, Verdict

Figures = dict[tuple[str, str], int]


@dataclass
class SnapshotReport:
    kind: str
    snapshot_id: int | None = None
    items_asked: int = 0
    rows_read: int = 0
    verdict: str = "none"  # accepted | suspect | blocked (a suspect feed is open) | none (nothing to read)
    reason: str | None = None
    compared: int = 0
    zero_drops: int = 0
    total_before: int = 0
    total_after: int = 0
    changed: int = 0  # item-site figures that differ from the accepted ones
    unreadable: int = 0  # queued codes no item read can name (left to the full reconcile)
    queue_left: int = 0  # queued items left for the next run
    totals_by_site: dict[str, int] = field(default_factory=dict)
    previous_totals_by_site: dict[str, int] = field(default_factory=dict)  # the last accepted full snapshot
    pruned: int = 0
    hints: HintReport | None = None
    cost: ReadCost = field(default_factory=ReadCost)  # the Peoplevox read's requests and seconds


def suspect_open(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(ledger_exceptions.open_subjects(con, [states.FEED_SUSPECT]))


def _figures(rows: list[SnapshotRow]) -> Figures:
    return {(r.item_code, r.site): r.available for r in rows}


def _suspect(verdict: FeedVerdict, snapshot_id: int) -> ExceptionRecord:
    return ExceptionRecord(
        kind=states.FEED_SUSPECT,
        owner=states.OWNERS[states.FEED_SUSPECT],
        message=f"Peoplevox's stock feed looks wrong, so nothing is pushed to Shopify: {verdict.reason} "
        f"(snapshot {snapshot_id}). Check Peoplevox (a maintenance window?); if the figures are right, "
        "accept the snapshot (docs/stock_flow.md, runbook)",
        subject=states.FEED_SUBJECT,
        detail={"snapshot_id": snapshot_id},
    )


def _record(
    con: duckdb.DuckDBPyConnection,
    report: SnapshotReport,
    rows: list[SnapshotRow],
    accepted: Figures,
    verdict: FeedVerdict,
    taken_at: datetime,
    run_id: str | None,
    partition_key: str | None = None,
    asked: list[str] | None = None,
) -> int:
    """Store the snapshot with its verdict (in the caller's transaction); fill in the report."""
    read = _figures(rows)
    report.rows_read = len(rows)
    report.changed = sum(1 for k, v in read.items() if accepted.get(k) != v)
    report.verdict = stock_snapshots.ACCEPTED if verdict.plausible else stock_snapshots.SUSPECT
    report.reason = verdict.reason or None
    report.compared, report.zero_drops = verdict.compared, verdict.zero_drops
    report.total_before, report.total_after = verdict.total_before, verdict.total_after
    previous = stock_snapshots.previous_full(con) if asked is None else None
    if previous is not None:
        report.previous_totals_by_site = stock_snapshots.totals_by_site(con, previous.snapshot_id)
    snapshot_id = stock_snapshots.record(
        con,
        "full" if asked is None else "items",
        taken_at,
        rows,
        Verdict(report.verdict, report.reason, verdict.compared, verdict.zero_drops, verdict.total_before),
        partition_key=partition_key,
        items_asked=None if asked is None else len(asked),
        run_id=run_id,
    )
    if not verdict.plausible:
        ledger_exceptions.open_or_touch(con, [_suspect(verdict, snapshot_id)])
    report.totals_by_site = stock_snapshots.totals_by_site(con, snapshot_id)
    report.snapshot_id = snapshot_id
    return snapshot_id


def take_full(
    source: StockSource,
    ledger: Ledger,
    rules: BusinessRules,
    now: datetime,
    run_id: str | None = None,
    partition_key: str | None = None,
) -> SnapshotReport:
    report = SnapshotReport("full")
    rows = source.all_items()
    report.cost = source.last_cost
    with ledger.transaction() as con:
        accepted = stock_snapshots.accepted_figures(con)
        expected = ledger_catalogue.counts(con)[1]
        verdict = assess_feed(_figures(rows), accepted, rules.stock.feed, expected_items=expected)
        snapshot_id = _record(con, report, rows, accepted, verdict, now, run_id, partition_key)
        if verdict.plausible:
            # The feed is sane again: earlier suspect snapshots are moot, nothing waits for a person.
            stock_snapshots.supersede_suspects(con, snapshot_id, now)
            ledger_exceptions.resolve_for_subject(
                con, [states.FEED_SUSPECT], states.FEED_SUBJECT, f"snapshot {snapshot_id} is plausible"
            )
            stock_snapshots.clear_all_dirty(con, now)
        retention = now - timedelta(days=rules.stock.snapshot_retention_days)
        report.pruned = stock_snapshots.prune(con, retention)
        stock_pushes.prune(con, retention)
    return report


def queued_in_order(con: duckdb.DuckDBPyConnection, demand: Demand) -> list[str]:
    """Queued items in the order they will be read: fastest sellers first."""
    return fastest_first(stock_snapshots.dirty(con), demand.item_per_hour)


def take_queued(
    source: StockSource,
    ledger: Ledger,
    rules: BusinessRules,
    now: datetime,
    run_id: str | None = None,
    inbox: Inbox | None = None,
) -> SnapshotReport:
    """Queue what the callbacks in `inbox` named, then re-read the queued items, fastest sellers
    first, at most `max_items_per_run` of them."""
    report = SnapshotReport("items")
    arrived = read_inbox(inbox, ledger.get_cursor(INBOX_CURSOR)) if inbox is not None else None
    with ledger.transaction() as con:
        if arrived is not None:
            report.hints = queue(con, arrived, now)
        if suspect_open(con):
            # Reads would only add suspect snapshots; the queue waits for a person or the reconcile.
            report.verdict = "blocked"
            report.queue_left = len(stock_snapshots.dirty(con))
            return report
        ready = queued_in_order(con, demand_from(con, rules, now))
        # A code a callback named that no item read can ask for would fail every run from now
        # on: off the queue, for the hourly full read (which names no code) to publish.
        unreadable = {code for code in ready if not source.can_ask(code)}
        if unreadable:
            stock_snapshots.clear_dirty(con, unreadable, now)
            report.unreadable = len(unreadable)
            ready = [code for code in ready if code not in unreadable]
        wanted = ready[: rules.stock.max_items_per_run]
        report.queue_left, report.items_asked = len(ready) - len(wanted), len(wanted)
        accepted = stock_snapshots.accepted_figures(con, wanted) if wanted else {}
        report_rows = stock_snapshots.figure_count(con) if wanted else 0
        since = now - timedelta(minutes=rules.stock.feed.window_minutes)
        earlier = stock_snapshots.recent_item_reads(con, since) if wanted else []
    if not wanted:
        return report
    rows = source.items(wanted, report_rows)
    report.cost = source.last_cost
    verdict = assess_feed(_figures(rows), accepted, rules.stock.feed, asked=set(wanted))
    # A few items per run escape the rule above; the window's reads together do not.
    verdict = assess_recent(verdict, earlier, rules.stock.feed)
    with ledger.transaction() as con:
        _record(con, report, rows, accepted, verdict, now, run_id, asked=wanted)
        if verdict.plausible:
            stock_snapshots.clear_dirty(con, wanted, now)
    return report
