"""A second Shopify variant of one SKU (a product duplicated in the admin) is keyed by SKU and
variant (`stock_targets.listing_key`); whatever reads those keys back must take the SKU from them.
Both sandboxes over HTTP, a real ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sync_pipeline.lib.domain.config import PeakMode
from sync_pipeline.lib.flows import catalogue
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.flows.stock.peak import follow_peak_mode
from sync_pipeline.lib.ledger import stock_snapshots
from sync_pipeline.sandbox.shopify.control import ProductSpec, VariantSpec
from sync_pipeline_tests.stock.test_push_flow import _sold
from sync_pipeline_tests.stock.world import CODES, RULES, stock_world

# One order in the 10-minute window is above 0.05 a minute: the first sale switches peak mode on.
PEAK_RULES = RULES.model_copy(
    update={
        "stock_buffers": RULES.stock_buffers.model_copy(
            update={"peak": PeakMode(orders_per_minute=0.05, window_minutes=10, extra_buffer=2)}
        )
    }
)


def test_a_peak_switch_queues_the_item_of_a_second_variant_of_a_sku_not_its_listing_key(
    tmp_path: Path,
) -> None:
    """A peak switch queues the items of the positions it moves. `stock_positions.sku` holds the
    listing key, "TEE-BLK-M (variant N)" for the copy: read as a SKU, its recipe was a made-up item
    code, queued for Peoplevox, and a bundle's components (or an overridden SKU's item) missed."""
    with stock_world(tmp_path, PEAK_RULES) as w:
        w.shop.add_product(
            ProductSpec(
                title="STARTER copy",
                variants=[VariantSpec(sku="BUNDLE-STARTER", price="30", duplicate_sku=True)],
            )
        )
        catalogue.refresh(ShopifyOrdersSource(w.client), PeoplevoxWarehouse(w.pvx_client), w.ledger, w.rules)
        w.full()
        with w.ledger.transaction() as con:
            keys = {r[0] for r in con.execute("SELECT sku FROM stock_positions").fetchall()}
            assert any(k.startswith("BUNDLE-STARTER (variant ") for k in keys)  # the copy was published
            assert not stock_snapshots.dirty(con)
        _sold(w, "CAP-BLK-OS", 1)  # peak mode on
        check = follow_peak_mode(w.ledger, w.rules, datetime.now(UTC), "test")
        assert check.switch is not None and check.switch.peak
        with w.ledger.transaction() as con:
            queued = set(stock_snapshots.dirty(con))
        assert queued <= set(CODES), (
            f"queued item codes Peoplevox does not have: {sorted(queued - set(CODES))}"
        )
        assert {"TEE-BLK-M", "TEE-WHT-M", "SOCK-BLK-OS"} <= queued  # the bundle's components
