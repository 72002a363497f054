"""A small store and warehouse for the stock flow's tests: both sandboxes, a seeded catalogue that
exercises overrides, a configured bundle, a Shopify bundle, tags and an unmapped location, the
real clients and a ledger with the catalogue in it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync_pipeline.lib.domain.config import BusinessRules, load_business_rules
from sync_pipeline.lib.flows import catalogue
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.flows.stock.peoplevox_port import PeoplevoxStock
from sync_pipeline.lib.flows.stock.push import push
from sync_pipeline.lib.flows.stock.report import PushReport
from sync_pipeline.lib.flows.stock.shopify_port import ShopifyStock
from sync_pipeline.lib.flows.stock.snapshot import SnapshotReport, take_full, take_queued
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.sandbox.peoplevox.app import create_app as create_pvx_app
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl
from sync_pipeline.sandbox.server import BackgroundServer
from sync_pipeline.sandbox.shopify.app import create_app as create_shopify_app
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import ComponentSpec, ProductSpec, SandboxControl, VariantSpec

REPO_ROOT = Path(__file__).resolve().parents[2]
CODES = ["TEE-BLK-M", "TEE-WHT-M", "SOCK-BLK-OS", "CAP-BLK-OS", "HOODIE-GRY-M", "TOTE-NAT-OS"]
SITE, WHOLESALE, POPUP = "PrimarySite", "Wholesale", "Pop-up shop"
_LOADED = load_business_rules(REPO_ROOT / "data" / "config").with_orders(hold_window_seconds=0)
# Pushes in doubt are read back at once: these tests lose an answer, then run the next push straight
# away, one run at a time (`test_two_pushes.py` keeps the settle age, with two runs at once).
RULES = _LOADED.model_copy(
    update={"stock": _LOADED.stock.model_copy(update={"unknown_outcome_settle_seconds": 0})}
)
SETTLING_RULES = _LOADED


@dataclass
class World:
    shop: SandboxControl
    pvx: PeoplevoxControl
    shopify_url: str
    peoplevox_url: str
    client: ShopifyClient
    pvx_client: PeoplevoxClient
    storefront: ShopifyStock
    source: PeoplevoxStock
    ledger: Ledger
    rules: BusinessRules

    def available(self, location: str = "Warehouse") -> dict[str, int]:
        return {s["sku"]: s["available"] for s in self.shop.stock() if s["location"] == location}

    def levels(self) -> list[dict[str, Any]]:
        return sorted(self.shop.stock(), key=lambda s: (s["sku"], s["location"]))

    def pvx_available(self, site: str = SITE) -> dict[str, int]:
        return {s.item_code: s.available for s in self.pvx.state().stock if s.site == site}

    def full(self, now: datetime | None = None) -> tuple[SnapshotReport, PushReport]:
        now = now or datetime.now(UTC)
        snap = take_full(self.source, self.ledger, self.rules, now, run_id="test-full")
        return snap, push(self.storefront, self.ledger, self.rules, now, run_id="test-full")

    def changes(
        self, now: datetime | None = None, max_points: float | None = None, max_seconds: float | None = None
    ) -> tuple[SnapshotReport, PushReport]:
        now = now or datetime.now(UTC)
        snap = take_queued(self.source, self.ledger, self.rules, now, run_id="test-items")
        return snap, push(self.storefront, self.ledger, self.rules, now, run_id="test-items",
                          max_points=max_points, max_seconds=max_seconds)  # fmt: skip


def seed(shop: SandboxControl, pvx: PeoplevoxControl) -> None:
    shop.add_location(POPUP)  # before the products, so each is stocked (at 0) there too
    for code in CODES:
        tags = ["fragile"] if code == "CAP-BLK-OS" else []
        shop.add_product(ProductSpec(title=code, tags=tags, variants=[VariantSpec(sku=code, price="10")]))
    shop.add_product(ProductSpec(title="Old tee", variants=[VariantSpec(sku="TEE-BLACK-M", price="10")]))
    shop.add_product(ProductSpec(title="Starter", variants=[VariantSpec(sku="BUNDLE-STARTER", price="30")]))
    shop.add_product(
        ProductSpec(
            title="Native",
            variants=[VariantSpec(sku="NATIVE-PACK", price="25", components=[
                ComponentSpec(sku="TEE-WHT-M"), ComponentSpec(sku="SOCK-BLK-OS", quantity=2)])],
        )
    )  # fmt: skip
    shop.add_product(
        ProductSpec(
            title="Gift card",
            variants=[VariantSpec(sku="GIFT-25", price="25", requires_shipping=False, is_gift_card=True)],
        )
    )
    pvx.seed_items([(c, f"50{i:011d}", c) for i, c in enumerate(CODES)])
    pvx.set_stock([(c, SITE, 40) for c in CODES] + [(c, WHOLESALE, 100) for c in CODES])


@contextmanager
def stock_world(
    tmp: Path, rules: BusinessRules | None = None, pvx_settings: dict[str, Any] | None = None
) -> Iterator[World]:
    """`pvx_settings`: more PeoplevoxSandboxConfig fields (a tenant that behaves otherwise)."""
    shopify_server = BackgroundServer(create_shopify_app(ShopifySandboxConfig(plan="plus"))).start()
    pvx_config = PeoplevoxSandboxConfig(requests_per_window=1000, window_seconds=1.0, **(pvx_settings or {}))
    pvx_server = BackgroundServer(create_pvx_app(pvx_config)).start()
    shop, pvx = SandboxControl(shopify_server.url), PeoplevoxControl(pvx_server.url)
    client = ShopifyClient(shopify_server.url, "shpat_sandbox")
    pvx_client = PeoplevoxClient(pvx_server.url, "sandbox", "integration", "sandbox-password", 1000, 1.0)
    try:
        seed(shop, pvx)
        rules = rules or RULES
        ledger = Ledger(tmp / "ledger.duckdb")
        catalogue.refresh(ShopifyOrdersSource(client), PeoplevoxWarehouse(pvx_client), ledger, rules)
        yield World(
            shop, pvx, shopify_server.url, pvx_server.url, client, pvx_client,
            ShopifyStock(client), PeoplevoxStock(pvx_client), ledger, rules,
        )  # fmt: skip
    finally:
        shop.close()
        pvx.close()
        client.close()
        pvx_client.close()
        shopify_server.stop()
        pvx_server.stop()
