"""Request bodies of the control API, shared by the server routes and the `SandboxControl` wrapper."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field


class ComponentSpec(BaseModel):
    sku: str
    quantity: int = Field(1, ge=1)


class VariantSpec(BaseModel):
    sku: str
    title: str = "Default Title"
    price: Decimal = Decimal("10.00")
    barcode: str | None = None
    requires_shipping: bool = True
    is_gift_card: bool = False
    # A bundle parent: Shopify sets requiresComponents and explodes it into these on order.
    components: list[ComponentSpec] = Field(default_factory=list)
    # Shopify does not make SKUs unique (a product duplicated in the admin keeps its SKUs): set this
    # to add a variant whose SKU another already has. Orders placed by SKU here still take the first.
    duplicate_sku: bool = False
    # Whether Shopify tracks the variant's inventory ("Track quantity" in the admin); None: tracked,
    # except a gift card's.
    tracked: bool | None = None


class ProductSpec(BaseModel):
    title: str
    variants: list[VariantSpec] = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)


class StockSpec(BaseModel):
    sku: str
    available: int
    location: str | None = None  # location name or gid; default: the first location


class AddressSpec(BaseModel):
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country: str | None = "United Kingdom"
    country_code: str | None = "GB"
    phone: str | None = None


class ShippingLineSpec(BaseModel):
    """The order's shipping method. `code` and `title` are what routing rules match on."""

    title: str = "Standard"
    code: str | None = "STANDARD"
    price: Decimal = Field(Decimal("0.00"), ge=0)  # added to the order total
    source: str | None = "shopify"  # "shopify" for the shop's own rates; a carrier's name otherwise
    carrier_identifier: str | None = None  # set when a third-party carrier service quoted the rate


class LineSpec(BaseModel):
    sku: str
    quantity: int = Field(1, ge=1)
    price: Decimal | None = None  # overrides the variant price (0 for free lines)
    custom_attributes: dict[str, str] = Field(default_factory=dict)
    # The location this line is assigned to (name or gid); default: the order's. Shopify makes one
    # fulfilment order per assigned location.
    location: str | None = None


class CompanySpec(BaseModel):
    """Place the order as a B2B purchase for this company location (Shopify B2B)."""

    name: str
    location: str = "Head office"
    external_id: str | None = None


class OrderSpec(BaseModel):
    lines: list[LineSpec] = Field(min_length=1)
    financial_status: Literal["PAID", "PENDING", "AUTHORIZED"] = "PAID"
    email: str | None = "customer@example.com"
    phone: str | None = None
    note: str | None = None
    tags: list[str] = Field(default_factory=list)
    customer_tags: list[str] = Field(default_factory=list)
    customer_name: str = "Sandbox Customer"
    custom_attributes: dict[str, str] = Field(default_factory=dict)
    source_name: str | None = "web"
    po_number: str | None = None
    company: CompanySpec | None = None  # a B2B order: `purchasingEntity` is a PurchasingCompany
    shipping_address: AddressSpec | None = Field(default_factory=AddressSpec)
    # Default: a free "Standard" rate; None: no shipping line (Shopify's null `shippingLine`).
    shipping_line: ShippingLineSpec | None = Field(default_factory=ShippingLineSpec)
    location: str | None = None
    # Money (money.py): the customer's currency (default the shop's) and its rate to the shop's,
    # tax (included in prices as UK VAT, or added as US sales tax) and an order-level discount.
    presentment_currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    exchange_rate: Decimal = Field(Decimal("1"), gt=0)
    taxes_included: bool = True
    tax_rate: Decimal = Field(Decimal("0.20"), ge=0, lt=1)
    discount_rate: Decimal = Field(Decimal("0"), ge=0, lt=1)


class FulfillmentOrderAction(BaseModel):
    """What a merchant does to an order's fulfilment orders in the admin (not via our app)."""

    action: Literal["hold", "release", "close", "incomplete", "report_progress", "open"]
    # Only the fulfilment order assigned to this location (by name); all of the order's if unset.
    location: str | None = None


class QuantityChange(BaseModel):
    line_item_id: str
    quantity: int = Field(ge=0)


class EditSpec(BaseModel):
    set_quantities: list[QuantityChange] = Field(default_factory=list)
    add_lines: list[LineSpec] = Field(default_factory=list)
    remove_line_item_ids: list[str] = Field(default_factory=list)
    shipping_address: AddressSpec | None = None


class CancelSpec(BaseModel):
    reason: Literal["CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "STAFF", "OTHER"] = "CUSTOMER"
    restock: bool = True


class WebhookSpec(BaseModel):
    topic: str  # enum form (ORDERS_PAID) or REST form (orders/paid)
    uri: str
