"""Two stock pushes at once (two stock runs in flight, or the `shopify_stock` pool raised to 2: the
hourly reconcile's push beside a stock-changes run's). Every row is compare-and-set with an
idempotency key, so Shopify never applies one write twice; on top of that the newer figure wins: a
push drops a row whose figures another run has read afresh since (that run pushes them), and one
push's read-back of pushes in doubt leaves another's live requests alone (the settle age)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from sync_pipeline.lib.flows.stock.ports import QuantityWrite
from sync_pipeline.lib.flows.stock.push import push
from sync_pipeline.lib.flows.stock.report import PushReport
from sync_pipeline.lib.flows.stock.shopify_port import ShopifyStock
from sync_pipeline.lib.flows.stock.snapshot import take_queued
from sync_pipeline.lib.ledger import stock_snapshots
from sync_pipeline.lib.ledger.stock_levels import LevelRow
from sync_pipeline_tests.stock.world import SETTLING_RULES, SITE, World, stock_world


class Held(ShopifyStock):
    """The first call of one kind (`set_available` before it leaves, or `levels` before it reads)
    waits until told to go."""

    def __init__(self, w: World, hold: str, waiting: threading.Event, go: threading.Event) -> None:
        super().__init__(w.client)
        self.hold, self.waiting, self.go, self.calls = hold, waiting, go, 0

    def _maybe_wait(self, call: str) -> None:
        if call == self.hold:
            self.calls += 1
            if self.calls == 1:
                self.waiting.set()
                self.go.wait(timeout=60)

    def set_available(self, writes: Sequence[QuantityWrite], key: str, reference: str) -> None:
        self._maybe_wait("set_available")
        super().set_available(writes, key, reference)

    def levels(self, inventory_item_ids: Sequence[str], location_id: str) -> dict[str, LevelRow]:
        self._maybe_wait("levels")
        return super().levels(inventory_item_ids, location_id)


def _hint(w: World, code: str) -> None:
    with w.ledger.transaction() as con:
        stock_snapshots.hint(con, {code: 1}, datetime.now(UTC))


def _push_a_held(w: World, hold: str, meanwhile: Callable[[], None]) -> PushReport:
    """Push A (its snapshot already taken) held at its first `hold` call while `meanwhile` runs."""
    now = datetime.now(UTC)
    waiting, go = threading.Event(), threading.Event()
    reports: list[PushReport] = []
    errors: list[BaseException] = []

    def push_a() -> None:
        try:
            reports.append(push(Held(w, hold, waiting, go), w.ledger, w.rules, now, run_id="push-a"))
        except BaseException as error:  # reported below
            errors.append(error)

    a = threading.Thread(target=push_a)
    a.start()
    try:
        assert waiting.wait(timeout=60)
        meanwhile()
    finally:
        go.set()
        a.join(timeout=60)
    assert not errors, errors
    return reports[0]


def test_an_older_push_does_not_overwrite_a_newer_one(tmp_path: Path) -> None:
    """Push A reads the warehouse's 50 and is slow to send; meanwhile 10 more arrive and push B sends
    60 − 2. A's write then finds Shopify moved (stale `changeFromQuantity`) and re-reads the level;
    its own target, 50 − 2, was computed from a figure B's read has replaced: A leaves it to B, and
    Shopify keeps B's 58. B's read-back of pushes in doubt leaves A's live request alone (younger
    than the settle age): A's own answer settles it, `stale`."""
    with stock_world(tmp_path, SETTLING_RULES) as w:
        w.full()
        assert w.available()["TEE-BLK-M"] == 38
        w.pvx.goods_in("TEE-BLK-M", SITE, 10)
        _hint(w, "TEE-BLK-M")
        take_queued(w.source, w.ledger, w.rules, datetime.now(UTC), run_id="push-a")

        def push_b() -> None:
            w.pvx.goods_in("TEE-BLK-M", SITE, 10)
            _hint(w, "TEE-BLK-M")
            _, b = w.changes()  # push B: the newer figure
            assert b.in_doubt == {} and w.available()["TEE-BLK-M"] == 58

        a = _push_a_held(w, "set_available", push_b)
        assert w.available()["TEE-BLK-M"] == w.available()["TEE-BLACK-M"] == 58
        assert a.stale > 0 and a.superseded > 0
        with w.ledger.transaction() as con:
            states = con.execute(
                "SELECT run_id, state, count(*) FROM stock_pushes WHERE run_id IN ('push-a', 'test-items') "
                "GROUP BY ALL ORDER BY ALL"
            ).fetchall()
            # The position (what stock_drift compares) is B's target, not A's older one.
            position = con.execute("SELECT target FROM stock_positions WHERE sku = 'TEE-BLK-M'").fetchall()
        assert [(run, state) for run, state, _ in states] == [("push-a", "stale"), ("test-items", "applied")]
        assert position == [(58,)]


def test_an_older_push_reading_shopify_after_a_newer_one_wrote_leaves_the_bundle_it_shares(
    tmp_path: Path,
) -> None:
    """Push A reads the tees (10 more in) and, before it reads Shopify, push B reads the socks (a count
    down to 10) and lowers them and the starter bundle (tee + white tee + 2 socks) to 3. A then reads
    Shopify after B wrote, so its compare-and-set would pass; but its bundle target came from the
    socks' older figure (18 sets) and must not go: Shopify would sell 15 bundles the warehouse
    cannot make."""
    with stock_world(tmp_path, SETTLING_RULES) as w:
        w.full()
        assert w.available()["BUNDLE-STARTER"] == 18  # min(40, 40, 40 // 2) − 2
        w.pvx.goods_in("TEE-BLK-M", SITE, 10)
        _hint(w, "TEE-BLK-M")
        take_queued(w.source, w.ledger, w.rules, datetime.now(UTC), run_id="push-a")

        def push_b() -> None:
            w.pvx.count_stock("SOCK-BLK-OS", SITE, 10)
            _hint(w, "SOCK-BLK-OS")
            w.changes()
            assert (w.available()["SOCK-BLK-OS"], w.available()["BUNDLE-STARTER"]) == (8, 3)

        a = _push_a_held(w, "levels", push_b)
        shown = w.available()
        assert (shown["TEE-BLK-M"], shown["SOCK-BLK-OS"], shown["BUNDLE-STARTER"]) == (48, 8, 3)
        # B took A's snapshot too (not pushed yet) and sent the tees; A's bundle was all it had left.
        assert (a.differing, a.stale, a.superseded, a.applied) == (1, 0, 1, 0)
