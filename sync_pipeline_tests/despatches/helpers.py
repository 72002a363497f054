"""Drive orders into the warehouse with the orders flow, then despatches back, without Dagster."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.flows.catalogue import refresh
from sync_pipeline.lib.flows.despatches.peoplevox_port import PeoplevoxDespatches
from sync_pipeline.lib.flows.despatches.read import ReadReport, read_despatches
from sync_pipeline.lib.flows.despatches.report import FulfilReport
from sync_pipeline.lib.flows.despatches.run import fulfil
from sync_pipeline.lib.flows.despatches.shopify_port import ShopifyStorefront
from sync_pipeline.lib.flows.orders.ingest import ingest
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.sandbox.shopify.control import AddressSpec, LineSpec, OrderSpec, ProductSpec, VariantSpec
from sync_pipeline_tests.orders.conftest import Stack

UK = AddressSpec(name="Ada Lovelace", address1="1 St James's Sq", city="London", zip="SW1Y 4JU")


def add_bundle_catalogue(stack: Stack) -> None:
    """The config bundle BUNDLE-STARTER (TEE-BLK-M, TEE-WHT-M, 2 × SOCK-BLK-OS) sells in Shopify."""
    stack.shop.add_product(
        ProductSpec(title="Starter", variants=[VariantSpec(sku="BUNDLE-STARTER", price="40")])
    )
    stack.shop.add_product(ProductSpec(title="Socks", variants=[VariantSpec(sku="SOCK-BLK-OS", price="5")]))
    stack.pvx.seed_items([("SOCK-BLK-OS", "5099999999999", "Socks")])
    stack.pvx.set_stock([("SOCK-BLK-OS", "PrimarySite", 500)])


def into_warehouse(stack: Stack) -> dict[str, str]:
    """Ingest and release every order placed so far; returns Shopify order id → sales order number."""
    refresh(stack.source, stack.warehouse, stack.ledger, stack.rules)
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    release(stack.source, stack.warehouse, stack.ledger, stack.rules, "test", datetime.now(UTC))
    with stack.ledger.transaction() as con:
        rows = con.execute(
            "SELECT o.shopify_order_id, o.sales_order_number FROM orders o JOIN pvx_injections i "
            "USING (sales_order_number) WHERE i.state = 'accepted'"
        ).fetchall()
    return dict(rows)


@dataclass
class Despatches:
    source: PeoplevoxDespatches
    storefront: ShopifyStorefront


def despatch_rules(stack: Stack, **changes: Any) -> BusinessRules:
    """The stack's rules with despatches.yaml settings changed, e.g. `fulfil_concurrency=1`."""
    return stack.rules.model_copy(update={"despatches": stack.rules.despatches.model_copy(update=changes)})


def ports(stack: Stack) -> Despatches:
    return Despatches(PeoplevoxDespatches(stack.warehouse.client), ShopifyStorefront(stack.source.client))


def run_once(
    stack: Stack,
    rules=None,
    hinted: tuple[str, ...] = (),
    settle: float = 0.0,
    storefront: ShopifyStorefront | None = None,
    max_seconds: float | None = None,  # None: the rules' fulfil_max_seconds
) -> tuple[ReadReport, FulfilReport]:  # type: ignore[no-untyped-def]
    p = ports(stack)
    rules = rules or stack.rules
    read = read_despatches(
        p.source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2), hinted=hinted
    )
    done = fulfil(
        storefront or p.storefront,
        stack.ledger,
        rules,
        "test",
        max_seconds=max_seconds,
        settle_seconds=settle,
    )
    return read, done


def shopify_lines(stack: Stack, order_id: str) -> dict[str, int]:
    """SKU → units fulfilled in Shopify."""
    order = stack.shop.get_order(order_id)
    return {li["sku"]: li["fulfilled_quantity"] for li in order["line_items"] if li["fulfilled_quantity"]}


def emails_for(stack: Stack, order_id: str) -> list[dict]:  # type: ignore[type-arg]
    return [e for e in stack.shop.emails() if e["order"] == order_id]


class TimedSends(ShopifyStorefront):
    """Each fulfilmentCreate takes at least `send_seconds` (a round trip to Shopify at a peak); when
    each call began is kept in `began`."""

    def __init__(self, client, send_seconds: float = 0.25) -> None:  # type: ignore[no-untyped-def]
        super().__init__(client)
        self.send_seconds = send_seconds
        self.began: list[float] = []
        self.lock = threading.Lock()

    def create_fulfilment(self, request, tracking, notify_customer, retry_until=None):  # type: ignore[no-untyped-def]
        with self.lock:
            self.began.append(time.monotonic())
        time.sleep(self.send_seconds)
        return super().create_fulfilment(request, tracking, notify_customer, retry_until=retry_until)


def despatched_one_each(stack: Stack, sku: str, orders: int) -> list[str]:
    """`orders` orders of one `sku` each, into the warehouse, each despatched in one package and
    read into the ledger: ready for a fulfil step. Returns their Shopify ids."""
    placed = [
        stack.shop.place_order(OrderSpec(lines=[LineSpec(sku=sku)], shipping_address=UK))["id"]
        for _ in range(orders)
    ]
    numbers = into_warehouse(stack)
    for oid in placed:
        stack.pvx.despatch(numbers[oid], [{sku: 1}])
    read_despatches(ports(stack).source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2))
    return placed
