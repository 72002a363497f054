"""The hourly catalogue read is background work: with Shopify's bucket spent by others it waits
for room instead of racing the storefront's flows into THROTTLED, and still reads every variant."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from sync_pipeline.defs.catalogue.assets import shopify_variants
from sync_pipeline.defs.resources import LedgerResource, ShopifyResource
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.sandbox.server import BackgroundServer
from sync_pipeline.sandbox.shopify.app import create_app
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import ProductSpec, SandboxControl, VariantSpec
from sync_pipeline_tests.instances import run_instance


def test_the_catalogue_read_leaves_half_the_bucket_to_the_other_flows(tmp_path: Path) -> None:
    # A small bucket refilling fast, so that waiting for half of it takes about a second.
    server = BackgroundServer(create_app(ShopifySandboxConfig(bucket_size=2000, restore_rate=1000))).start()
    try:
        with SandboxControl(server.url) as shop:
            for n in range(3):
                variants = [VariantSpec(sku=f"CAT-{n}-{size}") for size in ("S", "M", "L")]
                shop.add_product(ProductSpec(title=f"Catalogue {n}", variants=variants))
            shop.drain_bucket()  # the other flows have just spent it all
            resources = {
                "shopify": ShopifyResource(
                    shop_url=server.url, access_token="shpat_sandbox", api_version="2026-10", bulk_threshold=0
                ),
                "ledger": LedgerResource(data_dir=str(tmp_path)),
            }
            with run_instance() as instance:
                result = dg.materialize([shopify_variants], resources=resources, instance=instance)
            stats = shop.stats()
    finally:
        server.stop()
    assert result.success
    [materialization] = result.asset_materializations_for_node(shopify_variants.node_def.name)
    assert materialization.metadata["shopify_variants"].value >= 9
    # It waited for the bucket to hold half its size plus the page's cost, and so was never refused.
    assert materialization.metadata["shopify_yielded_seconds"].value > 0
    assert stats.get("throttled", 0) == 0
    with Ledger(tmp_path / "ledger.duckdb").transaction() as con:
        skus = {row[0] for row in con.execute("SELECT sku FROM shopify_variants").fetchall()}
    assert {f"CAT-{n}-{size}" for n in range(3) for size in ("S", "M", "L")} <= skus
