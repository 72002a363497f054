"""The circuit breaker over a window of small reads: a bad feed during a quiet spell, when each
incremental run re-reads fewer items than the per-read rule weighs, still trips it before more
than `feed.min_skus - 1` item figures have been zeroed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sync_pipeline.lib.domain.config import FeedLimits
from sync_pipeline.lib.flows.stock import states
from sync_pipeline.lib.flows.stock.accept import accept_snapshot
from sync_pipeline.lib.flows.stock.push import push
from sync_pipeline.lib.ledger import stock_snapshots
from sync_pipeline_tests.stock.world import CODES, RULES, SITE, WHOLESALE, World, stock_world

# Each run below asks about one item: far under min_skus, and its few units under min_total_units.
LIMITS = FeedLimits(max_zero_share=0.2, min_skus=4, max_total_drop=0.5, min_total_units=100)
QUIET_RULES = RULES.model_copy(update={"stock": RULES.stock.model_copy(update={"feed": LIMITS})})


def _quiet_store(w: World) -> dict[str, int]:
    """A few units of each item on the shelf, nothing in wholesale; accepted and pushed."""
    for code in CODES:
        w.pvx.count_stock(code, SITE, 6)
        w.pvx.count_stock(code, WHOLESALE, 0)
    snap, _ = w.full()
    assert snap.verdict == "accepted"
    shown = w.available()
    assert all(shown[c] > 0 for c in CODES)
    return shown


def _one_item_run(w: World, code: str, at: datetime) -> str:
    with w.ledger.transaction() as con:
        stock_snapshots.hint(con, {code: 1}, at)
    snap, _ = w.changes(now=at)
    return snap.verdict


def test_a_bad_feed_in_a_quiet_spell_trips_over_several_small_runs(tmp_path: Path) -> None:
    with stock_world(tmp_path, QUIET_RULES) as w:
        before = _quiet_store(w)
        w.pvx.set_faults(inventory_feed="zero")  # a maintenance window, one callback at a time
        start = datetime.now(UTC)
        verdicts = [_one_item_run(w, code, start + timedelta(minutes=i)) for i, code in enumerate(CODES)]
        zeroed = [c for c in CODES if w.available()[c] == 0]
        # Each read alone passes the per-read rule; together they are a bad feed.
        assert len(zeroed) <= LIMITS.min_skus - 1, (verdicts, zeroed)
        assert verdicts[: LIMITS.min_skus - 1] == ["accepted"] * (LIMITS.min_skus - 1)
        assert verdicts[LIMITS.min_skus - 1] == "suspect"
        assert set(verdicts[LIMITS.min_skus :]) == {"blocked"}
        (problem,) = w.ledger.list_open_exceptions(states.FEED_SUSPECT)
        assert "incremental reads" in problem.message and "4 of 4" in problem.message
        # The window ends: the hourly full read is plausible and puts the zeroed items back.
        w.pvx.clear_faults()
        snap, report = w.full()
        assert snap.verdict == "accepted" and report.mode == "full"
        assert {c: w.available()[c] for c in CODES} == {c: before[c] for c in CODES}
        assert w.ledger.list_open_exceptions(states.FEED_SUSPECT) == []


def test_real_sell_outs_spread_over_quiet_runs_pass(tmp_path: Path) -> None:
    with stock_world(tmp_path, QUIET_RULES) as w:
        _quiet_store(w)
        start = datetime.now(UTC)
        # Three items sell out and three move a little: 3 of 6 figures to zero is under min_skus.
        for i, code in enumerate(CODES):
            w.pvx.count_stock(code, SITE, 0 if i % 2 == 0 else 5)
            assert _one_item_run(w, code, start + timedelta(minutes=i)) == "accepted"
        assert w.ledger.list_open_exceptions(states.FEED_SUSPECT) == []


def test_a_plausible_full_read_starts_a_new_window(tmp_path: Path) -> None:
    with stock_world(tmp_path, QUIET_RULES) as w:
        _quiet_store(w)
        start = datetime.now(UTC)
        for i, code in enumerate(CODES[:3]):  # three real sell-outs…
            w.pvx.count_stock(code, SITE, 0)
            assert _one_item_run(w, code, start + timedelta(minutes=i)) == "accepted"
        snap, _ = w.full(now=start + timedelta(minutes=5))  # …confirmed by the hourly full read
        assert snap.verdict == "accepted"
        w.pvx.count_stock(CODES[3], SITE, 0)  # a fourth is news of its own, not the fourth of four
        assert _one_item_run(w, CODES[3], start + timedelta(minutes=6)) == "accepted"


def test_a_person_accepting_a_held_read_starts_a_new_window(tmp_path: Path) -> None:
    with stock_world(tmp_path, QUIET_RULES) as w:
        _quiet_store(w)
        start = datetime.now(UTC)
        # A limited release sells out size by size: real, but the fourth sell-out trips the breaker.
        for i, code in enumerate(CODES[:4]):
            w.pvx.count_stock(code, SITE, 0)
            verdict = _one_item_run(w, code, start + timedelta(minutes=i))
        assert verdict == "suspect"
        accepted = accept_snapshot(w.ledger, "ops@example.com", start + timedelta(minutes=5))
        assert accepted.verdict == "accepted_by_person"
        report = push(w.storefront, w.ledger, w.rules, start + timedelta(minutes=5))
        assert report.mode == "items" and w.available()[CODES[3]] == 0
        # The person vouched for everything before: a fifth sell-out is judged on its own.
        w.pvx.count_stock(CODES[4], SITE, 0)
        assert _one_item_run(w, CODES[4], start + timedelta(minutes=6)) == "accepted"
