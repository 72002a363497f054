"""A push opens the ledger a few times per run, not once per Shopify request: requests are written
ahead in batches, answers and fresh reads go with the next transaction. A run that dies mid-batch
leaves its unsent rows `sending`, and the next run reads them back before anything else."""

from __future__ import annotations

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
