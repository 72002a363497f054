"""Both sandboxes on 127.0.0.1, a seeded catalogue, and the clients the flow uses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sync_pipeline.lib.domain.config import BusinessRules, load_business_rules
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
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
from sync_pipeline_tests.kept_open import ledger_kept_open

REPO_ROOT = Path(__file__).resolve().parents[2]
# Item codes Peoplevox knows; the Shopify catalogue adds one variant it does not (drift).
ITEM_CODES = [
    "TEE-BLK-S",
    "TEE-BLK-M",
    "TEE-BLK-L",
    "TEE-WHT-M",
    "HOODIE-GRY-M",
    "CAP-NVY",
    "SOCKS-3PK",
    "MUG-LOGO",
]


@dataclass
class Stack:
    shopify_url: str
    peoplevox_url: str
    shop: SandboxControl
    pvx: PeoplevoxControl
    source: ShopifyOrdersSource
    warehouse: PeoplevoxWarehouse
    ledger: Ledger
    rules: BusinessRules
    data_dir: Path


def seed(shop: SandboxControl, pvx: PeoplevoxControl) -> None:
    for code in ITEM_CODES:
        shop.add_product(
            ProductSpec(
                title=code,
                variants=[VariantSpec(sku=code, price="20.00", barcode=f"50{abs(hash(code)) % 10**10:010d}")],
            )
        )
    shop.add_product(ProductSpec(title="Unmapped", variants=[VariantSpec(sku="TEE-RED-XXL", price="20.00")]))
    shop.add_product(
        ProductSpec(
            title="Gift card",
            variants=[VariantSpec(sku="GIFT-25", price="25.00", requires_shipping=False, is_gift_card=True)],
        )
    )
    shop.add_product(
        ProductSpec(
            title="Starter bundle",
            variants=[
                VariantSpec(
                    sku="BUNDLE-NATIVE",
                    price="45.00",
                    components=[
                        ComponentSpec(sku="TEE-BLK-M", quantity=2),
                        ComponentSpec(sku="CAP-NVY", quantity=1),
                    ],
                )
            ],
        )
    )
    pvx.seed_items([(code, f"50{i:011d}", code.title()) for i, code in enumerate(ITEM_CODES)])
    pvx.set_stock([(code, site, 500) for code in ITEM_CODES for site in ("PrimarySite", "Wholesale")])


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    shopify_server = BackgroundServer(create_shopify_app(ShopifySandboxConfig(plan="plus"))).start()
    pvx_server = BackgroundServer(
        create_pvx_app(PeoplevoxSandboxConfig(requests_per_window=1000, window_seconds=1.0))
    ).start()
    shop = SandboxControl(shopify_server.url)
    pvx = PeoplevoxControl(pvx_server.url)
    try:
        seed(shop, pvx)
        rules = load_business_rules(REPO_ROOT / "data" / "config").with_orders(hold_window_seconds=0)
        # Its users open the ledger in this process alone: kept open between transactions (kept_open.py).
        with ledger_kept_open(tmp_path / "ledger.duckdb"):
            yield Stack(
                shopify_url=shopify_server.url,
                peoplevox_url=pvx_server.url,
                shop=shop,
                pvx=pvx,
                source=ShopifyOrdersSource(ShopifyClient(shopify_server.url, "shpat_sandbox")),
                warehouse=PeoplevoxWarehouse(
                    PeoplevoxClient(
                        pvx_server.url,
                        "sandbox",
                        "integration",
                        "sandbox-password",
                        requests_per_window=1000,
                        window_seconds=1.0,
                    )
                ),
                ledger=Ledger(tmp_path / "ledger.duckdb"),
                rules=rules,
                data_dir=tmp_path,
            )
    finally:
        shop.close()
        pvx.close()
        shopify_server.stop()
        pvx_server.stop()
