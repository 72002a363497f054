"""Peoplevox availability into the ledger, through the circuit breaker.

`take_full` reads every item at every site (the hourly reconcile); `take_queued` re-reads the items
callbacks named, fast sellers first (in peak mode the slow ones wait for the reconcile). Either way
the read is compared with the last accepted figures (`lib/domain/stock_feed.py`): a plausible read
becomes the figures targets are computed from; a suspect one changes nothing, opens a top-priority
`stock_feed_suspect` exception for warehouse ops, and stops every push until a person accepts it
or a later full read is plausible again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.stock_feed import FeedVerdict, assess_feed
from sync_pipeline.lib.domain.stock_priority import fastest_first, waits_for_reconcile
from sync_pipeline.lib.flows.stock import states
from sync_pipeline.lib.flows.stock.demand import Demand
from sync_pipeline.lib.flows.stock.ports import ItemAvailability, StockSource
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, stock_pushes, stock_snapshots
from sync_pipeline.lib.ledger import catalogue as ledger_catalogue
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger.stock_snapshots import SnapshotRow, Verdict


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
    deferred: int = 0  # queued items left for the reconcile (peak mode)
    queue_left: int = 0  # queued items left for the next run
    totals_by_site: dict[str, int] = field(default_factory=dict)
    pruned: int = 0


def feed_suspect_open(ledger: Ledger) -> bool:
    with ledger.transaction() as con:
        return bool(ledger_exceptions.open_subjects(con, [states.FEED_SUSPECT]))


def _figures(rows: list[ItemAvailability]) -> dict[tuple[str, str], int]:
    return {(r.item_code, r.site): r.available for r in rows}


def _record(
    ledger: Ledger,
    report: SnapshotReport,
    rows: list[ItemAvailability],
    accepted: dict[tuple[str, str], int],
    verdict: FeedVerdict,
    taken_at: datetime,
    run_id: str | None,
    partition_key: str | None = None,
    asked: list[str] | None = None,
) -> int:
    read = _figures(rows)
    report.rows_read = len(rows)
    report.changed = sum(1 for k, v in read.items() if accepted.get(k) != v)
    report.verdict = stock_snapshots.ACCEPTED if verdict.plausible else stock_snapshots.SUSPECT
    report.reason = verdict.reason or None
    report.compared, report.zero_drops = verdict.compared, verdict.zero_drops
    report.total_before, report.total_after = verdict.total_before, verdict.total_after
    with ledger.transaction() as con:
        snapshot_id = stock_snapshots.record(
            con,
            "full" if asked is None else "items",
            taken_at,
            [SnapshotRow(r.item_code, r.site, r.available, r.on_hand, r.allocated) for r in rows],
            Verdict(
                report.verdict, report.reason, verdict.compared, verdict.zero_drops, verdict.total_before
            ),
            partition_key=partition_key,
            items_asked=None if asked is None else len(asked),
            run_id=run_id,
        )
        if not verdict.plausible:
            ledger_exceptions.open_or_touch(con, [_suspect(verdict, snapshot_id)])
        report.totals_by_site = stock_snapshots.totals_by_site(con, snapshot_id)
    report.snapshot_id = snapshot_id
    return snapshot_id


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
    with ledger.transaction() as con:
        accepted = stock_snapshots.accepted_figures(con)
        expected = ledger_catalogue.counts(con)[1]
    verdict = assess_feed(_figures(rows), accepted, rules.stock.feed, expected_items=expected)
    snapshot_id = _record(ledger, report, rows, accepted, verdict, now, run_id, partition_key)
    with ledger.transaction() as con:
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


def take_queued(
    source: StockSource,
    ledger: Ledger,
    rules: BusinessRules,
    demand: Demand,
    now: datetime,
    run_id: str | None = None,
) -> SnapshotReport:
    """Re-read the queued items, fastest sellers first, at most `max_items_per_run` of them."""
    report = SnapshotReport("items")
    if feed_suspect_open(ledger):
        # Reads would only add suspect snapshots; the queue waits for a person or the reconcile.
        report.verdict = "blocked"
        with ledger.transaction() as con:
            report.queue_left = len(stock_snapshots.dirty(con))
        return report
    with ledger.transaction() as con:
        queued = stock_snapshots.dirty(con)
    peak = rules.stock_buffers.peak
    ordered = fastest_first(queued, demand.item_per_hour)
    deferred = [c for c in ordered if waits_for_reconcile(c, demand.item_per_hour, demand.peak, peak)]
    wanted = [c for c in ordered if c not in set(deferred)][: rules.stock.max_items_per_run]
    report.deferred = len(deferred)
    report.queue_left = len(queued) - len(wanted)
    report.items_asked = len(wanted)
    if not wanted:
        return report
    rows = source.items(wanted)
    with ledger.transaction() as con:
        accepted = stock_snapshots.accepted_figures(con, wanted)
    verdict = assess_feed(_figures(rows), accepted, rules.stock.feed, asked=set(wanted))
    _record(ledger, report, rows, accepted, verdict, now, run_id, asked=wanted)
    if verdict.plausible:
        with ledger.transaction() as con:
            stock_snapshots.clear_dirty(con, wanted, now)
    return report
