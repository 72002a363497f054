"""stock_drift passing and failing on a real ledger: a push whose answer was lost leaves Shopify
behind its target; after the settle time the check names the SKU; the next run repairs it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sync_pipeline.defs.inventory.checks import stock_drift
from sync_pipeline.defs.resources import BusinessRulesResource, LedgerResource
from sync_pipeline.lib.flows.stock.ports import QuantityWrite
from sync_pipeline.lib.flows.stock.shopify_port import ShopifyStock
from sync_pipeline.lib.ledger import stock_snapshots
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline_tests.stock.world import REPO_ROOT, SITE, World, stock_world


class ShopifyDown(ShopifyStock):
    """Shopify answers every write 503 (the request may have been applied; it was not)."""

    def __init__(self, w: World) -> None:
        super().__init__(ShopifyClient(w.shopify_url, "shpat_sandbox", max_attempts=2, backoff_base=0.01))
        self.w = w

    def set_available(self, writes: Sequence[QuantityWrite], key: str, reference: str) -> None:
        self.w.shop.set_faults(FaultSettings(error_rate=1.0))
        try:
            super().set_available(writes, key, reference)
        finally:
            self.w.shop.set_faults(FaultSettings())


def _check(w: World, tmp_path: Path):  # type: ignore[no-untyped-def]
    return stock_drift(
        ledger=LedgerResource(data_dir=str(tmp_path)),
        business_rules=BusinessRulesResource(config_dir=str(REPO_ROOT / "data" / "config")),
    )


def test_stock_drift_fails_on_a_sku_left_behind_and_passes_once_it_is_pushed(tmp_path: Path) -> None:
    with stock_world(tmp_path) as w:
        w.full()
        assert _check(w, tmp_path).passed
        w.pvx.goods_in("HOODIE-GRY-M", SITE, 6)
        with w.ledger.transaction() as con:
            stock_snapshots.hint(con, {"HOODIE-GRY-M": 1}, datetime.now(UTC))
        w.storefront = ShopifyDown(w)
        _, report = w.changes()
        assert report.outcome_unknown == 1
        assert _check(w, tmp_path).passed  # not settled yet: a push may still be on its way
        with w.ledger.transaction() as con:  # ten minutes pass
            con.execute("UPDATE stock_positions SET last_pushed_at = ?, computed_at = ?",
                        [datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=11)] * 2)  # fmt: skip
        failed = _check(w, tmp_path)
        assert not failed.passed and failed.metadata["drifting"].value == 1
        assert (
            "| HOODIE-GRY-M |" in failed.metadata["worst"].value
            and "| 41 | 35 | -6 |" in failed.metadata["worst"].value
        )
        w.storefront = ShopifyStock(w.client)
        _, report = w.changes()  # the item went back in the queue: re-read, read back, pushed
        assert report.in_doubt == {"not_applied": 1} and report.applied == 1
        assert w.available()["HOODIE-GRY-M"] == 41
        assert _check(w, tmp_path).passed
