"""Order reads through the client: incremental iteration, by id, by ids, bundles, long orders."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sync_pipeline.lib.shopify import ShopifySearchWarning
from sync_pipeline.lib.shopify.errors import ShopifyQueryError
from sync_pipeline.sandbox.shopify.control import (
    AddressSpec,
    CompanySpec,
    EditSpec,
    LineSpec,
    OrderSpec,
    QuantityChange,
    ShippingLineSpec,
)

from .conftest import Sandbox

HOSTILE = AddressSpec(
    name='Zoë "Zed" O\'Brien, Jr.',
    company="Smith, Jones & Co.\nLtd",
    address1="Straße 1; Flat 2",
    address2="=SUM(A1:A2)",
    city="Kraków",
    zip="31-000",
    country_code="PL",
    phone="+48 12 345 67 89",
)


def test_iterates_orders_updated_since_across_pages(sandbox: Sandbox) -> None:
    sandbox.seed()
    start = datetime.now(UTC) - timedelta(seconds=5)
    placed = [
        sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG", quantity=i + 1)])) for i in range(7)
    ]
    sandbox.client.max_query_cost = 200  # 2 orders a page, so pagination is exercised
    assert sandbox.client.orders_page_size() == 2
    orders = list(sandbox.client.iter_orders_updated_since(start))
    assert [o.id for o in orders] == [p["id"] for p in placed]
    assert sandbox.client.stats.by_operation["OrdersUpdatedSince"] == 4
    assert all(a.updated_at <= b.updated_at for a, b in itertools.pairwise(orders))
    assert list(sandbox.client.iter_orders_updated_since(datetime.now(UTC) + timedelta(minutes=1))) == []


def test_order_fields_are_typed_and_faithful(sandbox: Sandbox) -> None:
    sandbox.seed()
    placed = sandbox.control.place_order(
        OrderSpec(
            lines=[
                LineSpec(sku="BUNDLE-BRK"),
                LineSpec(sku="GIFT-25"),
                LineSpec(sku="TEE-M", price=Decimal("0")),
            ],
            customer_tags=["B2B"],
            tags=["wholesale"],
            custom_attributes={"gift_message": "Happy birthday 🎉"},
            source_name="pos",
            po_number="PO-77",
            shipping_address=HOSTILE,
        )
    )
    order = sandbox.client.get_order(placed["id"])
    assert order is not None
    assert order.name == "#1001" and order.legacy_resource_id == str(placed["legacy_id"])
    assert order.display_financial_status == "PAID" and order.display_fulfillment_status == "UNFULFILLED"
    assert order.customer_tags == ["B2B"] and order.tags == ["wholesale"]
    assert order.custom_attributes[0].value == "Happy birthday 🎉"
    assert order.source_name == "pos" and order.po_number == "PO-77"
    assert order.shipping_address is not None
    assert order.shipping_address.name == HOSTILE.name and order.shipping_address.company == HOSTILE.company
    assert order.shipping_address.country_code_v2 == "PL"
    skus = [
        (li.sku, li.quantity, li.line_item_group.variant_sku if li.line_item_group else None)
        for li in order.line_items
    ]
    assert skus == [
        ("TEE-S", 1, "BUNDLE-BRK"),
        ("MUG", 2, "BUNDLE-BRK"),
        ("GIFT-25", 1, None),
        ("TEE-M", 1, None),
    ]
    bundle_lines = order.line_items[:2]
    assert bundle_lines[0].line_item_group == bundle_lines[1].line_item_group
    assert bundle_lines[0].line_item_group is not None and bundle_lines[0].line_item_group.quantity == 1
    gift = order.line_items[2]
    assert gift.is_gift_card and not gift.requires_shipping
    assert order.line_items[3].unit_price == Decimal("0.00")
    assert order.line_items[0].inventory_item_id is not None
    assert order.total_price_set.shop_money.amount == Decimal("43.00")


def test_b2b_company_comes_back_as_the_purchasing_entity(sandbox: Sandbox) -> None:
    """The merchant-controlled B2B fields routing may trust (issue 16 item 2)."""
    sandbox.seed()
    b2b = sandbox.control.place_order(
        OrderSpec(
            lines=[LineSpec(sku="TEE-M")], company=CompanySpec(name="Northwind Retail Ltd", location="Leeds")
        )
    )
    again = sandbox.control.place_order(
        OrderSpec(
            lines=[LineSpec(sku="TEE-M")], company=CompanySpec(name="Northwind Retail Ltd", location="York")
        )
    )
    shopper = sandbox.control.place_order(
        OrderSpec(lines=[LineSpec(sku="TEE-M")], custom_attributes={"order_type": "wholesale"})
    )
    orders = {o.id: o for o in sandbox.client.get_orders([b2b["id"], again["id"], shopper["id"]])}
    first, second = orders[b2b["id"]], orders[again["id"]]
    assert first.b2b_company is not None and first.b2b_company.name == "Northwind Retail Ltd"
    assert first.b2b_location is not None and first.b2b_location.name == "Leeds"
    assert first.b2b_company.id.startswith("gid://shopify/Company/")
    assert second.b2b_company == first.b2b_company and second.b2b_location != first.b2b_location
    assert orders[shopper["id"]].b2b_company is None  # a Customer: no company, whatever the cart says


def test_a_union_field_without_a_fragment_is_rejected_as_shopify_would(sandbox: Sandbox) -> None:
    bad = "query Bad($id: ID!) { order(id: $id) { purchasingEntity { company { id } } } }"
    with pytest.raises(ShopifyQueryError, match="company"):
        sandbox.client.execute("Bad", bad, {"id": "gid://shopify/Order/1"})


def test_get_orders_by_ids_skips_unknown_and_keeps_order(sandbox: Sandbox) -> None:
    sandbox.seed()
    a = sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")]))
    b = sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="TEE-S")]))
    orders = sandbox.client.get_orders([b["id"], "gid://shopify/Order/1", a["id"]])
    assert [o.id for o in orders] == [b["id"], a["id"]]
    assert sandbox.client.get_order("gid://shopify/Order/1") is None


def test_orders_with_more_lines_than_a_page_are_completed(make_sandbox) -> None:
    sb = make_sandbox(line_items_per_order=3)
    from sync_pipeline.sandbox.shopify.control import ProductSpec, VariantSpec

    sb.control.add_product(
        ProductSpec(title="Many", variants=[VariantSpec(sku=f"SKU-{i}") for i in range(8)])
    )
    placed = sb.control.place_order(OrderSpec(lines=[LineSpec(sku=f"SKU-{i}") for i in range(8)]))
    order = sb.client.get_order(placed["id"])
    assert order is not None and [li.sku for li in order.line_items] == [f"SKU-{i}" for i in range(8)]
    assert not order.line_items_truncated


def test_edit_bumps_updated_at_and_lists_the_order_again(sandbox: Sandbox) -> None:
    sandbox.seed()
    placed = sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG", quantity=3)]))
    before = sandbox.client.get_order(placed["id"])
    assert before is not None
    line_id = placed["line_items"][0]["id"]
    sandbox.control.edit_order(
        placed["id"], EditSpec(set_quantities=[QuantityChange(line_item_id=line_id, quantity=1)])
    )
    sandbox.control.edit_order(placed["id"], EditSpec(shipping_address=HOSTILE))
    after = sandbox.client.get_order(placed["id"])
    assert after is not None
    assert after.updated_at >= before.updated_at + timedelta(seconds=2)  # strictly monotonic per change
    assert after.line_items[0].quantity == 3 and after.line_items[0].current_quantity == 1
    assert [o.id for o in sandbox.client.iter_orders_updated_since(after.updated_at)] == [placed["id"]]


def test_search_filters_on_status_tag_and_financial_status(sandbox: Sandbox) -> None:
    sandbox.seed()
    paid = sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")], tags=["vip"]))
    pending = sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")], financial_status="PENDING"))
    gone = sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")]))
    sandbox.control.cancel_order(gone["id"])

    def ids(query: str) -> list[str]:
        data = sandbox.client.execute("T", "query T($q: String) { orders(first: 10, query: $q) { nodes { id } } }",
                                      {"q": query})  # fmt: skip
        return [n["id"] for n in data["orders"]["nodes"]]

    assert ids("financial_status:pending") == [pending["id"]]
    assert ids("tag:vip") == [paid["id"]]
    assert ids("status:cancelled") == [gone["id"]]
    assert ids("status:open AND financial_status:paid") == [paid["id"]]
    assert ids("financial_status:pending OR tag:vip") == [paid["id"], pending["id"]]
    assert ids("-tag:vip status:open") == [pending["id"]]


def test_a_search_shopify_ignored_in_part_fails_loudly(sandbox: Sandbox) -> None:
    """A misspelled field or an unquoted date would widen the result: the client refuses it."""
    sandbox.seed()
    sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")]))
    since = datetime.now(UTC) - timedelta(hours=1)
    with pytest.raises(ShopifySearchWarning) as typo:
        list(sandbox.client.iter_orders_updated_since(since, extra_query="finacial_status:pending"))
    assert "finacial_status" in str(typo.value) and typo.value.codes == ["invalid_field"]
    with pytest.raises(ShopifySearchWarning) as bare:
        list(sandbox.client.iter_orders_updated_since(since, extra_query="created_at:>=2999-01-01T00:00:00Z"))
    assert bare.value.codes == ["invalid_value"]
    # The client's own windows quote their dates, so they are applied, not ignored.
    assert list(sandbox.client.iter_orders_updated_since(since, until=since + timedelta(seconds=1))) == []


def test_shipping_line_comes_back_through_every_order_read(sandbox: Sandbox) -> None:
    sandbox.seed()
    start = datetime.now(UTC) - timedelta(seconds=5)
    express = ShippingLineSpec(title="DPD Express (next day)", code="DPD_EXPRESS", price=Decimal("6.95"),
                               source="dpd", carrier_identifier="dpd-carrier-1")  # fmt: skip
    fast = sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")], shipping_line=express))
    plain = sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")]))
    digital = sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="GIFT-25")], shipping_line=None))

    by_id = sandbox.client.get_order(fast["id"])
    assert by_id is not None and by_id.shipping_line is not None
    assert (by_id.shipping_line.code, by_id.shipping_line.title) == ("DPD_EXPRESS", "DPD Express (next day)")
    assert by_id.total_price_set.shop_money.amount == Decimal("14.95")  # 8.00 mug + 6.95 shipping
    by_ids = {
        o.id: o.shipping_line for o in sandbox.client.get_orders([fast["id"], plain["id"], digital["id"]])
    }
    since = {o.id: o.shipping_line for o in sandbox.client.iter_orders_updated_since(start)}
    assert by_ids == since
    assert since[fast["id"]] == by_id.shipping_line
    assert since[plain["id"]] is not None
    assert (since[plain["id"]].code, since[plain["id"]].title) == ("STANDARD", "Standard")
    assert since[digital["id"]] is None

    # The fields the client does not read are served too, and match the official schema's shape.
    data = sandbox.client.execute(
        "S",
        "query S($id: ID!) { order(id: $id) { shippingLine { id code title source carrierIdentifier custom"
        " isRemoved originalPriceSet { shopMoney { amount currencyCode } } } } }",
        {"id": fast["id"]},
    )
    line = data["order"]["shippingLine"]
    assert line["source"] == "dpd" and line["carrierIdentifier"] == "dpd-carrier-1"
    assert (
        line["id"].startswith("gid://shopify/ShippingLine/") and not line["custom"] and not line["isRemoved"]
    )
    assert line["originalPriceSet"]["shopMoney"] == {"amount": "6.95", "currencyCode": "GBP"}
