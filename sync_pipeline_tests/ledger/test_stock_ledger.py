"""The stock tables against a real DuckDB file: snapshots and verdicts, the callback queue, the copy
of Shopify's levels, positions and the write-ahead pushes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import stock_levels as levels
from sync_pipeline.lib.ledger import stock_pushes as pushes
from sync_pipeline.lib.ledger import stock_snapshots as snapshots
from sync_pipeline.lib.ledger.stock_snapshots import SnapshotRow, Verdict

NOW = datetime(2026, 10, 1, 9, tzinfo=UTC)
OK = Verdict(snapshots.ACCEPTED, None, 0, 0, 0)
SUSPECT = Verdict(snapshots.SUSPECT, "all zero", 2, 2, 12)


def test_only_accepted_snapshots_move_the_figures(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    rows = [SnapshotRow("A", "PrimarySite", 5), SnapshotRow("B", "PrimarySite", 7)]
    with ledger.transaction() as con:
        first = snapshots.record(con, "full", NOW, rows, OK, partition_key="2026-10-01-09:00")
        bad = snapshots.record(con, "full", NOW, [SnapshotRow("A", "PrimarySite", 0)], SUSPECT)
        assert snapshots.accepted_figures(con) == {("A", "PrimarySite"): 5, ("B", "PrimarySite"): 7}
        assert [s.snapshot_id for s in snapshots.unpushed(con)] == [first]
        # A person accepts the suspect snapshot: its figures apply, and a full read zeroes what it left out.
        snapshots.decide(con, bad, snapshots.ACCEPTED_BY_PERSON, "ops@example.com", NOW)
        snapshots.apply(con, bad)
        assert snapshots.accepted_figures(con) == {("A", "PrimarySite"): 0, ("B", "PrimarySite"): 0}
        items = snapshots.record(con, "items", NOW, [SnapshotRow("B", "PrimarySite", 3)], OK, items_asked=1)
        assert snapshots.accepted_figures(con, ["B"]) == {("B", "PrimarySite"): 3}
        assert [s.snapshot_id for s in snapshots.unpushed(con)] == [first, bad, items]
        snapshots.mark_pushed(con, [first, bad, items], NOW)
        assert snapshots.unpushed(con) == []
        assert snapshots.items_of(con, [first]) == {"A", "B"}
        assert snapshots.totals_by_site(con, first) == {"PrimarySite": 12}
        # The newest usable full snapshot, bounded or not; a run's own snapshots, newest first.
        assert snapshots.previous_full(con).snapshot_id == bad  # type: ignore[union-attr]
        assert snapshots.previous_full(con, bad).snapshot_id == first  # type: ignore[union-attr]
        assert snapshots.previous_full(con, first) is None
        later = snapshots.record(con, "items", NOW, [SnapshotRow("A", "PrimarySite", 1)], OK, run_id="r2")
        other = snapshots.record(con, "items", NOW, [SnapshotRow("B", "PrimarySite", 1)], OK, run_id="r1")
        assert [s.snapshot_id for s in snapshots.for_run(con, "r2")] == [later]
        assert [s.snapshot_id for s in snapshots.for_run(con, "r1")] == [other]
        assert snapshots.for_run(con, "r3") == []


def test_an_item_named_again_during_its_read_stays_queued(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    with ledger.transaction() as con:
        snapshots.hint(con, {"A": 2, "B": 1}, NOW)
        snapshots.hint(con, {"A": 1}, NOW + timedelta(seconds=5))
        assert set(snapshots.dirty(con)) == {"A", "B"}
        assert snapshots.clear_dirty(con, ["A", "B"], read_started=NOW + timedelta(seconds=1)) == 1
        assert set(snapshots.dirty(con)) == {"A"}


def test_levels_positions_and_pushes(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    loc = "gid://shopify/Location/1"
    with ledger.transaction() as con:
        levels.upsert_levels(
            con,
            [levels.LevelRow("item-1", loc, 4, 1, NOW), levels.LevelRow("item-2", loc, None, 0, None)],
            NOW,
        )
        levels.set_available(con, [("item-1", loc, 9)], NOW)
        assert {(lv.inventory_item_id, lv.available) for lv in levels.quantities(con)} == {
            ("item-1", 9),
            ("item-2", None),
        }
        assert levels.newest_shopify_update(con, loc) == NOW.replace(tzinfo=None)
        position = levels.PositionRow(
            "SKU-1", loc, "item-1", "PrimarySite", 9, 12, 1, 2, "default", 4, NOW, None, None
        )
        levels.upsert_positions(con, [position])
        count, worst = levels.drifted(con, NOW + timedelta(minutes=1), tolerance=0)
        assert count == 1 and worst[0].sku == "SKU-1"
        intent = pushes.PushIntent("SKU-1", "item-1", loc, 4, 9)
        pushes.mark_sending_many(con, [("run-1:0", [intent])], "run-1", NOW)
        assert [p.intent for p in pushes.in_doubt(con)] == [intent]
        assert pushes.settle_request(con, "run-1:0", pushes.APPLIED, NOW) == 1
        assert pushes.in_doubt(con) == [] and pushes.state_counts(con) == {"applied": 1}


def test_a_full_snapshot_of_100000_rows_is_one_short_transaction(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    rows = [
        SnapshotRow(f"SKU-{i:05d}", site, i % 7)
        for i in range(50_000)
        for site in ("PrimarySite", "Wholesale")
    ]
    started = time.monotonic()
    with ledger.transaction() as con:
        snapshots.record(con, "full", NOW, rows, OK)
    assert time.monotonic() - started < 20  # executemany would take minutes
    with ledger.transaction() as con:
        assert len(snapshots.accepted_figures(con)) == 100_000
