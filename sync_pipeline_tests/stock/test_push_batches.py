"""A push opens the ledger a few times per run, not once per Shopify request: requests are written
ahead in batches, answers and fresh reads go with the next transaction. A run that dies mid-batch
leaves its unsent rows `sending`, and the next run reads them back before anything else; so does a
run that dies with requests out at once, some of them applied by Shopify and never recorded."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from sync_pipeline.lib.flows.stock import writes
from sync_pipeline.lib.flows.stock.ports import QuantityWrite
from sync_pipeline.lib.flows.stock.push import push
from sync_pipeline.lib.flows.stock.shopify_port import ShopifyStock
from sync_pipeline.lib.flows.stock.snapshot import take_full
from sync_pipeline.lib.ledger import Ledger, stock_levels, stock_pushes
from sync_pipeline_tests.stock.world import World, stock_world


class CountingLedger(Ledger):
    def __init__(self, inner: Ledger) -> None:
        super().__init__(inner.path)
        self.opened = 0

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.opened += 1
        with super().transaction() as con:
            yield con


class DiesOnRequest(ShopifyStock):
    """The process dies as it sends its `n`-th request (nothing of that one reaches Shopify)."""

    def __init__(self, inner: ShopifyStock, n: int) -> None:
        super().__init__(inner.client)
        self.n, self.sent = n, 0

    def set_available(self, writes: Sequence[QuantityWrite], key: str, reference: str) -> None:
        self.sent += 1
        if self.sent == self.n:
            raise RuntimeError("the process died")
        super().set_available(writes, key, reference)


class DiesWithTwoOut(ShopifyStock):
    """Requests 2 and 3 are out at once (each waits for the other). The process dies as it sends
    request 2 (nothing of it reaches Shopify); request 3 reaches Shopify and is applied, but the run
    is gone before its answer is recorded."""

    def __init__(self, inner: ShopifyStock) -> None:
        super().__init__(inner.client)
        self.sent, self.lock = 0, threading.Lock()
        self.both_out = threading.Barrier(2, timeout=30)
        self.applied_unrecorded: list[QuantityWrite] = []

    def set_available(self, writes: Sequence[QuantityWrite], key: str, reference: str) -> None:
        with self.lock:
            self.sent += 1
            n = self.sent
        if n in (2, 3):
            self.both_out.wait()  # a BrokenBarrierError (not "died") if they went one at a time
        if n == 2:
            raise RuntimeError("the process died")
        super().set_available(writes, key, reference)
        if n == 3:
            self.applied_unrecorded.extend(writes)


def _targets(w: World) -> dict[tuple[str, str], int]:
    with w.ledger.transaction() as con:
        return {k: p.target for k, p in stock_levels.positions(con).items()}


def _shown(w: World) -> dict[tuple[str, str], int]:
    return {(s["sku"], s["location_id"]): s["available"] for s in w.shop.stock()}


def test_a_full_push_opens_the_ledger_a_few_times_however_many_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writes, "MAX_INPUT", 2)  # every two rows a request of their own
    with stock_world(tmp_path) as w:
        now = datetime.now(UTC)
        take_full(w.source, w.ledger, w.rules, now)
        counting = CountingLedger(w.ledger)
        report = push(w.storefront, counting, w.rules, now, run_id="batched")
        assert report.requests >= 4 and report.applied == report.differing
        # in-doubt and suspect check, inputs, one batch written ahead, positions and answers.
        assert counting.opened <= 4, counting.opened
        with w.ledger.transaction() as con:
            assert stock_pushes.state_counts(con) == {"applied": report.applied}
            copy = {(lv.inventory_item_id, lv.location_id): lv for lv in stock_levels.quantities(con)}
        shown = _shown(w)
        assert all(shown[k] == v for k, v in _targets(w).items())
        # The ledger's copy of Shopify holds what was written.
        by_item = {(s["inventory_item_id"], s["location_id"]): s["available"] for s in w.shop.stock()}
        assert all(by_item[k] == lv.available for k, lv in copy.items())


def test_a_run_that_dies_mid_batch_leaves_its_unsent_rows_to_be_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writes, "MAX_INPUT", 2)
    monkeypatch.setattr(writes, "IN_FLIGHT", 1)  # one request out at a time: the next test has two
    with stock_world(tmp_path) as w:
        now = datetime.now(UTC)
        take_full(w.source, w.ledger, w.rules, now)
        with pytest.raises(RuntimeError, match="died"):
            push(DiesOnRequest(w.storefront, 2), w.ledger, w.rules, now, run_id="dies")
        with w.ledger.transaction() as con:
            counts = stock_pushes.state_counts(con)
        # The first request's answer was kept; the rest were written ahead and never sent.
        assert counts["applied"] == 2 and counts["sending"] >= 2
        report = push(w.storefront, w.ledger, w.rules, datetime.now(UTC), run_id="next")
        assert report.in_doubt == {"not_applied": counts["sending"]}
        with w.ledger.transaction() as con:
            assert stock_pushes.in_doubt(con) == []
        shown = _shown(w)
        assert all(shown[k] == v for k, v in _targets(w).items())


def test_a_run_that_dies_with_two_writes_out_leaves_both_to_be_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writes, "MAX_INPUT", 2)
    monkeypatch.setattr(writes, "IN_FLIGHT", 2)
    with stock_world(tmp_path) as w:
        now = datetime.now(UTC)
        take_full(w.source, w.ledger, w.rules, now)
        dying = DiesWithTwoOut(w.storefront)
        with pytest.raises(RuntimeError, match="died"):
            push(dying, w.ledger, w.rules, now, run_id="dies")
        assert len(dying.applied_unrecorded) == 2
        with w.ledger.transaction() as con:
            counts = stock_pushes.state_counts(con)
            sending = {(r.intent.inventory_item_id, r.intent.location_id) for r in stock_pushes.in_doubt(con)}
        # Only the first request's answer was recorded; request 3 was applied all the same.
        assert counts["applied"] == 2 and counts["sending"] >= 4
        assert {(q.inventory_item_id, q.location_id) for q in dying.applied_unrecorded} <= sending
        report = push(w.storefront, w.ledger, w.rules, datetime.now(UTC), run_id="next")
        # Looked up, not sent again: request 3's rows are found applied, the rest not applied.
        assert report.in_doubt == {"applied": 2, "not_applied": counts["sending"] - 2}
        with w.ledger.transaction() as con:
            assert stock_pushes.in_doubt(con) == []
        shown = _shown(w)
        assert all(shown[k] == v for k, v in _targets(w).items())
