"""A Shopify order → the Peoplevox sales order and items, or the reasons it must be held.

Steps: cancelled orders and orders with nothing shippable are not for the warehouse; shippable
lines are exploded into pick units (bundles), each unit's SKU is mapped to an item code, units
are merged per item code in first-seen order, the address is checked, the route chosen.
Every problem found is collected, so one hold names everything CX and ops must fix.
"""

from __future__ import annotations

from collections.abc import Set
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from .address import address_problems
from .bundles import PickUnit, explode_lines
from .config.business_rules import BusinessRules
from .exceptions import ExceptionKind, OrderException
from .mapping import Mapped, map_sku
from .models import ShippingAddress, ShopOrder
from .routing import Route, choose_route
from .sales_order import (
    HeldOrder,
    NotForWarehouse,
    NotForWarehouseReason,
    SalesOrderHeader,
    SalesOrderItem,
    TranslatedOrder,
    TranslationOutcome,
    line_reference,
)
from .sales_order_number import sales_order_number
from .shippable import shippable_lines
from .text import label_text, neutralise_formula, unsendable_character, visible_text

PENNY = Decimal("0.01")
CONTACT_NAME_LIMIT = 100


def format_peoplevox_datetime(moment: datetime) -> str:
    """`yyyy-MM-dd HH:mm:ss` in UTC (Peoplevox import format; naive times are taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def translate_order(order: ShopOrder, rules: BusinessRules, known_item_codes: Set[str]) -> TranslationOutcome:
    number = sales_order_number(order.id, rules.orders.sales_order_prefix)
    if order.is_cancelled:
        return NotForWarehouse(
            order_id=order.id,
            sales_order_number=number,
            reason=NotForWarehouseReason.CANCELLED,
            message=f"order {order.name} is cancelled in Shopify",
        )
    if order.financial_status.upper() == "REFUNDED":
        # Every penny went back: nothing is left to ship for, whatever the lines still say.
        return NotForWarehouse(
            order_id=order.id,
            sales_order_number=number,
            reason=NotForWarehouseReason.REFUNDED,
            message=f"order {order.name} is fully refunded in Shopify",
        )
    lines = shippable_lines(order.lines)
    if not lines:
        return NotForWarehouse(
            order_id=order.id,
            sales_order_number=number,
            reason=NotForWarehouseReason.NOTHING_TO_SHIP,
            message=f"order {order.name} has nothing to ship (gift cards, digital or fully removed lines)",
        )
    units = explode_lines(lines, rules.bundles)
    mapped, exceptions = _map_units(units, rules, known_item_codes)
    exceptions.extend(
        OrderException.of(ExceptionKind.BAD_ADDRESS, f"order {order.name}: {problem.message}")
        for problem in address_problems(order.shipping_address)
    )
    if exceptions:
        return HeldOrder(order_id=order.id, sales_order_number=number, exceptions=tuple(exceptions))
    route = choose_route(order, rules.routing)
    translated = TranslatedOrder(
        order_id=order.id,
        sales_order_number=number,
        header=_header(order, number, route),
        items=tuple(_items(mapped, number)),
        priority=route.priority,
        route_rule=route.rule_name,
    )
    unsendable = _unsendable_fields(translated)
    if unsendable:
        return HeldOrder(order_id=order.id, sales_order_number=number, exceptions=tuple(unsendable))
    return translated


def _unsendable_fields(translated: TranslatedOrder) -> list[OrderException]:
    """Every value that would still break the SaveData request, named by its column.

    Customer text is cleaned and SKUs are checked before this, so what is left comes from
    configuration (a route's site, channel or service): one order is held, not the run.
    """
    rows = [translated.header.as_csv_row(), *(item.as_csv_row() for item in translated.items)]
    found: dict[str, str] = {}
    for row in rows:
        for column, value in row.items():
            bad = unsendable_character(value)
            if bad is not None:
                found.setdefault(column, bad)
    return [
        OrderException.of(
            ExceptionKind.UNSENDABLE_TEXT,
            f"order {translated.sales_order_number}: {column} contains the character {bad}, which "
            f"cannot be sent to Peoplevox (route rule {translated.route_rule!r}); correct it and the "
            "order goes on the next release run",
        )
        for column, bad in found.items()
    ]


def _map_units(
    units: list[PickUnit], rules: BusinessRules, known_item_codes: Set[str]
) -> tuple[list[tuple[str, PickUnit]], list[OrderException]]:
    mapped: list[tuple[str, PickUnit]] = []
    exceptions: list[OrderException] = []
    reported: set[str | None] = set()
    for unit in units:
        result = map_sku(unit.sku, known_item_codes, rules.sku_overrides.overrides)
        if isinstance(result, Mapped):
            mapped.append((result.item_code, unit))
            continue
        key = unit.sku if unit.sku and unit.sku.strip() else f"line:{unit.line_id}"
        if key in reported:
            continue
        reported.add(key)
        line = f"line {unit.line_name!r}" if unit.line_name else f"line {unit.line_id}"
        exceptions.append(OrderException.of(ExceptionKind.UNMAPPED_SKU, f"{line}: {result.message}"))
    return mapped, exceptions


def _items(mapped: list[tuple[str, PickUnit]], number: str) -> list[SalesOrderItem]:
    quantities: dict[str, int] = {}
    values: dict[str, Decimal] = {}
    for item_code, unit in mapped:
        quantities[item_code] = quantities.get(item_code, 0) + unit.quantity
        values[item_code] = values.get(item_code, Decimal("0")) + unit.value
    return [
        SalesOrderItem(
            SalesOrderNumber=number,
            ItemCode=item_code,
            QuantityOrdered=quantity,
            Line=line_reference(item_code),
            SalePrice=(values[item_code] / quantity).quantize(PENNY, rounding=ROUND_HALF_EVEN),
        )
        for item_code, quantity in quantities.items()
    ]


def _contact_name(address: ShippingAddress) -> str:
    # One cell: made visible part by part, the formula rule applied to what the cell starts with.
    name, company = visible_text(address.name), visible_text(address.company)
    if name and company:
        combined = f"{name}, {company}"
        return neutralise_formula(combined if len(combined) <= CONTACT_NAME_LIMIT else name)
    return neutralise_formula(name or company)


def _header(order: ShopOrder, number: str, route: Route) -> SalesOrderHeader:
    address = order.shipping_address or ShippingAddress()
    contact = _contact_name(address)
    email = label_text(order.email)
    created = format_peoplevox_datetime(order.created_at)
    return SalesOrderHeader(
        SalesOrderNumber=number,
        CustomerPurchaseOrderReferenceNumber=label_text(order.name),
        # Who the order is for, as Peoplevox lists it: the email identifies a DTC customer
        # across orders; without one, the phone or the recipient.
        Customer=email or label_text(order.phone) or contact,
        Email=email,
        ContactName=contact,
        ShippingAddressLine1=label_text(address.address1),
        ShippingAddressLine2=label_text(address.address2),
        ShippingAddressCity=label_text(address.city),
        ShippingAddressRegion=label_text(address.province_code),
        ShippingAddressPostcode=label_text(address.zip).upper(),
        ShippingAddressCountry=label_text(address.country_code).upper(),
        Site=route.site,
        ChannelName=route.channel,
        ServiceType=route.service,
        CreatedDate=created,
        TotalSale=order.total.quantize(PENNY, rounding=ROUND_HALF_EVEN),
        # Shopify has no requested date: "as soon as possible", i.e. the day it was placed.
        RequestedDeliveryDate=format_peoplevox_datetime(order.processed_at or order.created_at),
    )
