"""A backfill read through a bulk operation leaves the ledger exactly as the paginated read does."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from sync_pipeline.defs.orders.assets import shopify_orders
from sync_pipeline.defs.resources import BusinessRulesResource, LedgerResource, ShopifyResource
from sync_pipeline.lib.flows.orders.ingest import CURSOR, ingest
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.sandbox.shopify.control import (
    AddressSpec,
    CancelSpec,
    CompanySpec,
    EditSpec,
    LineSpec,
    OrderSpec,
)
from sync_pipeline_tests.instances import run_instance

from .conftest import REPO_ROOT, Stack

ODD = AddressSpec(name='Zoë, "Zed"', address1="=1+1", city="Łódź", zip="90-001", country_code="PL")


def _place_orders(stack: Stack) -> list[str]:
    specs = [
        OrderSpec(lines=[LineSpec(sku="TEE-BLK-M", quantity=2), LineSpec(sku="BUNDLE-NATIVE")]),
        OrderSpec(lines=[LineSpec(sku="CAP-NVY")], company=CompanySpec(name="Acme", location="Leeds")),
        OrderSpec(lines=[LineSpec(sku="TEE-RED-XXL")], shipping_address=ODD),  # unmapped: held
        OrderSpec(lines=[LineSpec(sku="GIFT-25"), LineSpec(sku="MUG-LOGO")], financial_status="PENDING"),
        OrderSpec(lines=[LineSpec(sku=c, quantity=2) for c in ("TEE-BLK-S", "TEE-BLK-L", "TEE-WHT-M",
                                                                  "HOODIE-GRY-M", "SOCKS-3PK", "MUG-LOGO")] * 2),
    ]  # fmt: skip
    ids = [stack.shop.place_order(spec)["id"] for spec in specs * 2]
    stack.shop.cancel_order(ids[0], CancelSpec())
    stack.shop.edit_order(ids[1], EditSpec(add_lines=[LineSpec(sku="SOCKS-3PK", quantity=3)]))
    return ids


def test_bulk_backfill_records_the_same_ledger_as_paginated(stack: Stack, tmp_path: Path) -> None:
    ids = _place_orders(stack)
    now = datetime.now(UTC)
    window = (now - timedelta(days=1), now + timedelta(minutes=5))
    books = {}
    for mode, threshold in (("paginated", 0), ("bulk", 1)):
        client = ShopifyClient(
            stack.shopify_url, "shpat_sandbox", bulk_threshold=threshold, line_items_per_order=5
        )
        ledger = Ledger(tmp_path / f"{mode}.duckdb")
        report = ingest(ShopifyOrdersSource(client), ledger, stack.rules, "run:test", now, window=window)
        assert client.last_read_mode == mode and report.orders_read == len(ids)
        assert ledger.get_cursor(CURSOR) is None  # a backfill leaves the incremental cursor alone
        with ledger.transaction() as con:
            rows = ledger_orders.get_many(con, ids)
        books[mode] = {i: dataclasses.replace(r, snapshot_read_at=None) for i, r in rows.items()}
        client.close()
    assert len(books["bulk"]) == len(ids)
    assert books["bulk"] == books["paginated"]
    states = {row.state for row in books["bulk"].values()}
    assert len(states) >= 3  # cancelled, held, awaiting payment/release: not one trivial path


def test_a_backfill_run_reads_through_a_bulk_operation(stack: Stack, tmp_path: Path) -> None:
    """The `shopify/orders` asset, backfilled for today as the UI launches it, with the threshold at 2."""
    placed = [stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="TEE-BLK-M", quantity=n)]))["id"]
              for n in (1, 2, 3)]  # fmt: skip
    resources = {
        "shopify": ShopifyResource(
            shop_url=stack.shopify_url, access_token="shpat_sandbox", api_version="2026-10", bulk_threshold=2
        ),
        "ledger": LedgerResource(data_dir=str(tmp_path / "dagster")),
        "business_rules": BusinessRulesResource(config_dir=str(REPO_ROOT / "data" / "config")),
    }
    with run_instance() as instance:
        result = dg.materialize([shopify_orders], resources=resources, instance=instance,
                                partition_key=datetime.now(UTC).strftime("%Y-%m-%d"),
                                tags={"sync/mode": "backfill"})  # fmt: skip
    assert result.success
    [materialization] = result.asset_materializations_for_node(shopify_orders.node_def.name)
    assert materialization.metadata["shopify_read"].value == "bulk"
    with Ledger(tmp_path / "dagster" / "ledger.duckdb").transaction() as con:
        assert set(ledger_orders.get_many(con, placed)) == set(placed)
