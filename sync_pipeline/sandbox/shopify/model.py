"""The sandbox's in-memory records. Plain dataclasses; all mutation goes through `store.Store`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .payments import Transaction
    from .refunds import Refund


def iso(moment: datetime | None) -> str | None:
    """Shopify's DateTime form: UTC, whole seconds, trailing Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Location:
    id: int
    name: str
    is_active: bool = True


@dataclass
class Component:
    variant_id: int
    quantity: int


@dataclass
class Variant:
    id: int
    product_id: int
    sku: str
    title: str
    price: Decimal
    barcode: str | None
    inventory_item_id: int
    requires_shipping: bool = True
    is_gift_card: bool = False
    components: list[Component] = field(default_factory=list)

    @property
    def requires_components(self) -> bool:
        return bool(self.components)


@dataclass
class Product:
    id: int
    title: str
    handle: str
    is_gift_card: bool
    variant_ids: list[int] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass
class InventoryItem:
    id: int
    variant_id: int
    tracked: bool = True


@dataclass
class Level:
    item_id: int
    location_id: int
    quantities: dict[str, int] = field(default_factory=dict)
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def get(self, name: str) -> int:
        if name == "on_hand":
            # on_hand = available + committed + the unavailable states (Shopify's definition).
            return sum(self.quantities.get(n, 0) for n in ("available", "committed", *UNAVAILABLE))
        return self.quantities.get(name, 0)


UNAVAILABLE = ("damaged", "quality_control", "reserved", "safety_stock")
QUANTITY_NAMES = ("available", "on_hand", "committed", "incoming", *UNAVAILABLE)


@dataclass
class LineGroup:
    id: int
    title: str
    quantity: int
    variant_id: int
    product_id: int
    variant_sku: str


@dataclass
class LineItem:
    id: int
    variant_id: int | None
    sku: str | None
    name: str
    quantity: int
    current_quantity: int
    unit_price: Decimal
    requires_shipping: bool
    is_gift_card: bool
    group: LineGroup | None = None
    custom_attributes: list[tuple[str, str | None]] = field(default_factory=list)
    fulfilled_quantity: int = 0
    refunded_fulfilled: int = 0  # fulfilled units refunded since (returned, or kept by the customer)


@dataclass
class FulfillmentOrderLine:
    id: int
    line_item_id: int
    total_quantity: int
    remaining_quantity: int


@dataclass
class FulfillmentOrder:
    id: int
    order_id: int
    location_id: int
    status: str  # OPEN, IN_PROGRESS, ON_HOLD, CLOSED, CANCELLED, INCOMPLETE
    created_at: datetime
    updated_at: datetime
    lines: list[FulfillmentOrderLine] = field(default_factory=list)
    # What a hold returns to on release (OPEN, or IN_PROGRESS once something was fulfilled).
    held_from: str | None = None
    # Progress reported (fulfillmentOrderReportProgress, or a fulfilment service at work): it
    # stays IN_PROGRESS and cannot be moved until marked open again.
    progress_reported: bool = False


@dataclass
class Fulfillment:
    id: int
    order_id: int
    name: str
    created_at: datetime
    tracking: list[dict[str, str | None]]
    lines: list[tuple[int, int, int]]  # (fulfillment line id, line item id, quantity)
    notify_customer: bool
    status: str = "SUCCESS"
    updated_at: datetime | None = None
    location_id: int | None = None


@dataclass
class ShippingLine:
    """The shipping method chosen for an order (`Order.shippingLine`; REST `shipping_lines[0]`)."""

    id: int
    title: str
    code: str | None
    price: Decimal = Decimal("0")
    source: str | None = "shopify"
    carrier_identifier: str | None = None


@dataclass
class Customer:
    id: int
    display_name: str
    email: str | None
    tags: list[str] = field(default_factory=list)


@dataclass
class PurchasingCompany:
    """A B2B order's company and company location (`Order.purchasingEntity`).

    Only the merchant creates companies and assigns customers to company locations, so, unlike
    a cart attribute, this is safe to route on."""

    company_id: int
    company_name: str
    location_id: int
    location_name: str
    external_id: str | None = None


@dataclass
class Order:
    id: int
    number: int
    created_at: datetime
    updated_at: datetime
    processed_at: datetime
    financial_status: str  # PAID, PENDING, ...
    currency: str
    email: str | None = None
    phone: str | None = None
    note: str | None = None
    tags: list[str] = field(default_factory=list)
    custom_attributes: list[tuple[str, str | None]] = field(default_factory=list)
    source_name: str | None = "web"
    po_number: str | None = None
    shipping_address: dict[str, str | None] | None = None
    shipping_line: ShippingLine | None = None
    customer: Customer | None = None
    purchasing_company: PurchasingCompany | None = None  # set for B2B orders only
    line_items: list[LineItem] = field(default_factory=list)
    fulfillment_order_ids: list[int] = field(default_factory=list)
    fulfillment_ids: list[int] = field(default_factory=list)
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None
    edited: bool = False
    test: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)
    # Money (money.py, payments.py, refunds.py): the customer's currency and its rate to the shop's, tax and an
    # order-level discount, and the payment records.
    presentment_currency: str = ""
    rate: Decimal = Decimal("1")
    taxes_included: bool = True
    tax_rate: Decimal = Decimal("0")
    discount_rate: Decimal = Decimal("0")
    transactions: list[Transaction] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    return_ids: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"#{self.number}"

    def total_price(self) -> Decimal:
        """`totalPriceSet` in the shop's currency."""
        from .money import totals

        return totals(self).total.shop

    def fulfillment_status(self) -> str:
        shippable = [li for li in self.line_items if li.requires_shipping and li.current_quantity > 0]
        shipped = sum(li.fulfilled_quantity for li in shippable)
        wanted = sum(li.current_quantity for li in shippable)
        if not shippable or (shipped and shipped >= wanted):
            return "FULFILLED" if shipped else "UNFULFILLED"
        return "PARTIALLY_FULFILLED" if shipped else "UNFULFILLED"

    def display_fulfillment_status(self, fulfillment_orders: list[FulfillmentOrder]) -> str:
        """`displayFulfillmentStatus`: ON_HOLD while nothing shipped and a fulfilment order is held."""
        status = self.fulfillment_status()
        if status == "UNFULFILLED" and any(fo.status == "ON_HOLD" for fo in fulfillment_orders):
            return "ON_HOLD"
        return status


@dataclass
class WebhookSubscription:
    id: int
    topic: str  # enum form, e.g. ORDERS_PAID
    uri: str
    created_at: datetime
    updated_at: datetime
    format: str = "JSON"
    include_fields: list[str] = field(default_factory=list)
    filter: str | None = None
