"""Our own fulfilment bumps the order's updatedAt; the orders ingest must not read that order in
full again for it, yet must read every real change that comes with it (issue 8)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from sync_pipeline.lib.domain.tracking import Tracking
from sync_pipeline.lib.flows.despatches.ports import CreatedFulfilment
from sync_pipeline.lib.flows.despatches.shopify_port import ShopifyStorefront
from sync_pipeline.lib.flows.orders.ingest import ingest
from sync_pipeline.lib.flows.orders.observed import SETTLE
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger import own_versions
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.shopify.control import AddressSpec, EditSpec, LineSpec, OrderSpec
from sync_pipeline_tests.despatches import helpers
from sync_pipeline_tests.despatches.helpers import UK, into_warehouse, run_once
from sync_pipeline_tests.orders.conftest import Stack


class EditedRightAfter(ShopifyStorefront):
    """Shopify answers our fulfilment on some fulfilment orders, and staff edit that order at once."""

    def __init__(self, client: ShopifyClient, fulfillment_orders: set[str], edit: Callable[[], None]) -> None:
        super().__init__(client)
        self.fulfillment_orders, self.edit = fulfillment_orders, edit

    def create_fulfilment(
        self,
        request: dict[str, dict[str, int]],
        tracking: Tracking | None,
        notify_customer: bool,
        retry_until: float | None = None,
    ) -> CreatedFulfilment:
        made = super().create_fulfilment(request, tracking, notify_customer, retry_until)
        if self.fulfillment_orders & set(request):
            self.edit()
        return made


def test_our_fulfilment_is_not_read_again_but_a_change_around_it_is(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_ours = stack.shop.place_order(
        OrderSpec(lines=[LineSpec(sku="TEE-BLK-M", quantity=2)], shipping_address=UK)
    )
    edited_before = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))
    edited_after = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="MUG-LOGO")], shipping_address=UK))
    # Shopify's updatedAt has whole seconds: only a read `SETTLE` after the version is trusted.
    time.sleep(SETTLE.total_seconds() + 1.1)
    numbers = into_warehouse(stack)
    assert len(numbers) == 3
    stack.pvx.despatch(numbers[only_ours["id"]], [{"TEE-BLK-M": 1}, {"TEE-BLK-M": 1}])  # two packages
    stack.pvx.despatch(numbers[edited_before["id"]], [{"CAP-NVY": 1}])
    stack.pvx.despatch(numbers[edited_after["id"]], [{"MUG-LOGO": 1}])
    # An address edit after the ledger's read, before our fulfilment: none of the listing's free fields.
    moved = AddressSpec(name="Ada Lovelace", address1="2 Elm Row", city="Leeds", zip="LS1 1AA")
    stack.shop.edit_order(edited_before["id"], EditSpec(shipping_address=moved))
    # A line added in the very second our fulfilment lands: with same-second updates it keeps our version.
    stack.shop.set_faults(FaultSettings(same_second_updates=True))
    fos = {fo["id"] for fo in stack.shop.get_order(edited_after["id"])["fulfillment_orders"]}
    add_line = EditSpec(add_lines=[LineSpec(sku="CAP-NVY")])
    storefront = EditedRightAfter(
        stack.source.client, fos, lambda: stack.shop.edit_order(edited_after["id"], add_line)
    )
    plain = helpers.ports(stack)
    monkeypatch.setattr(helpers, "ports", lambda s: helpers.Despatches(plain.source, storefront))
    _, done = run_once(stack)
    stack.shop.set_faults(FaultSettings())
    assert done.fulfilled == 4, done.summary
    with stack.ledger.transaction() as con:
        ours = own_versions.of(con, [only_ours["id"], edited_before["id"], edited_after["id"]])
    # Both fulfilments of the first order are ours alone; the order edited before ours is not.
    assert only_ours["id"] in ours and edited_before["id"] not in ours

    report = ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    # All three listed; only the two that really changed are read in full.
    assert (report.orders_listed, report.orders_only_ours, report.orders_read) == (3, 1, 2), report
    with stack.ledger.transaction() as con:
        rows = ledger_orders.get_many(con, [only_ours["id"], edited_before["id"], edited_after["id"]])
    assert rows[edited_before["id"]].snapshot["shipping_address"]["city"] == "Leeds"  # type: ignore[index]
    assert len(rows[edited_after["id"]].snapshot["lines"]) == 2  # type: ignore[index]
    assert rows[only_ours["id"]].shopify_updated_at < ours[only_ours["id"]]  # type: ignore[operator]
