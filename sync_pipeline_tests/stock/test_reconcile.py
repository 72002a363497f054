"""The hourly reconcile prepares its push while Peoplevox is read (`reconcile.py`, `prepare.py`):
a level Shopify changed meanwhile is not taken as in step, and a suspect snapshot leaves nothing to
push with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sync_pipeline.lib.flows.stock.prepare import prepare_full
from sync_pipeline.lib.flows.stock.push import push
from sync_pipeline.lib.flows.stock.reconcile import snapshot_and_prepare
from sync_pipeline.lib.flows.stock.shopify_port import ShopifyStock
from sync_pipeline.lib.flows.stock.snapshot import take_full
from sync_pipeline.lib.ledger import stock_levels
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.sandbox.shopify.control_models import StockSpec
from sync_pipeline_tests.stock.world import stock_world


def test_a_level_shopify_changed_during_the_read_is_pushed_back_and_a_suspect_feed_prepares_nothing(
    tmp_path: Path,
) -> None:
    with stock_world(tmp_path) as w:
        w.full()  # the first reconcile: a complete read of Shopify, everything pushed
        target = w.available()["TEE-BLK-M"]
        # The next reconcile prepares its push, then Shopify moves (an incremental push, a person
        # in the admin) before the Peoplevox read ends: the ledger's copy still shows the target.
        now = datetime.now(UTC)
        prepared = prepare_full(w.storefront, w.ledger, w.rules, now)
        assert prepared.fresh is not None  # not a complete read: the few recent levels only
        w.shop.set_stock([StockSpec(sku="TEE-BLK-M", available=target + 7)])
        take_full(w.source, w.ledger, w.rules, now)
        report = push(w.storefront, w.ledger, w.rules, now, run_id="prepared", prepared=prepared)
        assert report.prepared and report.mode == "full"
        assert w.available()["TEE-BLK-M"] == target
        assert report.applied == 1 and report.stale == 0  # read before it was written: not stale
        with w.ledger.transaction() as con:
            assert all(p.shopify_available == p.target for p in stock_levels.positions(con).values())

        # Shopify failing while Peoplevox is read costs the push its head start, not the snapshot.
        broken = ShopifyStock(ShopifyClient(w.shopify_url, "wrong-token", max_attempts=1))
        snap, none = snapshot_and_prepare(w.source, broken, w.ledger, w.rules, datetime.now(UTC))
        assert snap.verdict == "accepted" and none is None

        # A maintenance window: the snapshot is suspect, nothing is handed to a push, and the push
        # that runs anyway (the blocking check would stop the job first) is blocked.
        before = w.shop.stock()
        w.pvx.set_faults(inventory_feed="zero")
        snap, prepared_again = snapshot_and_prepare(
            w.source, w.storefront, w.ledger, w.rules, datetime.now(UTC)
        )
        assert snap.verdict == "suspect" and prepared_again is None
        assert push(w.storefront, w.ledger, w.rules, datetime.now(UTC)).mode == "blocked"
        assert w.shop.stock() == before
