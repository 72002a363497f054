"""Typed results of the client. Field names are snake_case; the GraphQL camelCase is the alias.

Connections are flattened into lists (`Order.line_items`), and a few nested ids are lifted
into properties (`LineItem.inventory_item_id`) so callers need not walk the GraphQL shape.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


class ShopifyModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


def _page(data: Any, key: str, target: str, truncated: str | None = None, cursor: str | None = None) -> Any:
    """Turn a connection page `{key: {nodes: [...], pageInfo: {...}}}` into `{target: [...]}` before
    validation; when named, field `truncated` says whether more pages follow (`hasNextPage`) and
    field `cursor` holds where the next page starts (`endCursor`)."""
    if isinstance(data, dict) and isinstance(data.get(key), dict):
        data = dict(data)
        page = data.pop(key)
        info = page.get("pageInfo") or {}
        data[target] = page.get("nodes") or []
        if truncated:
            data[truncated] = bool(info.get("hasNextPage"))
        if cursor:
            # Kept only when there is more to read: a complete page is the same however it was read.
            data[cursor] = info.get("endCursor") if info.get("hasNextPage") else None
    return data


def _nodes(data: Any, key: str, target: str) -> Any:
    """Turn `{key: {nodes: [...]}}` into `{target: [...]}` before validation."""
    return _page(data, key, target)


class Money(ShopifyModel):
    amount: Decimal
    currency_code: str


class MoneyBag(ShopifyModel):
    shop_money: Money


class Attribute(ShopifyModel):
    key: str
    value: str | None = None


class MailingAddress(ShopifyModel):
    name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country_code_v2: str | None = Field(None, alias="countryCodeV2")
    phone: str | None = None


class ShippingLine(ShopifyModel):
    """The shipping method the customer chose; `code` and `title` are what routing matches."""

    code: str | None = None
    title: str | None = None


class IdRef(ShopifyModel):
    id: str


class OrderVersionRef(ShopifyModel):
    """An order's id and its `updatedAt` as an answer reported it."""

    id: str
    updated_at: datetime


class OrderDeliveryRef(ShopifyModel):
    """An order's version with the fields routing and the parcel read (`ORDER_DELIVERY_VERSIONS`)."""

    id: str
    updated_at: datetime
    custom_attributes: list[Attribute] = Field(default_factory=list)
    shipping_address: MailingAddress | None = None
    shipping_line: ShippingLine | None = None


class OrderChange(ShopifyModel):
    """One row of the cheap change listing: the order's version and the scalars that cost nothing."""

    id: str
    updated_at: datetime
    cancelled_at: datetime | None = None
    display_financial_status: str | None = None
    email: str | None = None
    phone: str | None = None
    tags: list[str] = Field(default_factory=list)
    current_subtotal_line_items_quantity: int | None = None


class VariantRef(ShopifyModel):
    id: str
    sku: str | None = None
    inventory_item: IdRef | None = None


class LineItemGroup(ShopifyModel):
    id: str
    title: str
    quantity: int
    variant_sku: str | None = None


class LineItem(ShopifyModel):
    id: str
    sku: str | None = None
    name: str
    quantity: int
    current_quantity: int
    requires_shipping: bool
    is_gift_card: bool
    original_unit_price_set: MoneyBag
    variant: VariantRef | None = None
    line_item_group: LineItemGroup | None = None

    @property
    def inventory_item_id(self) -> str | None:
        return self.variant.inventory_item.id if self.variant and self.variant.inventory_item else None

    @property
    def unit_price(self) -> Decimal:
        return self.original_unit_price_set.shop_money.amount


class Customer(ShopifyModel):
    tags: list[str] = Field(default_factory=list)


class NamedRef(ShopifyModel):
    id: str
    name: str


class PurchasingEntity(ShopifyModel):
    """`Order.purchasingEntity`: set for a B2B order (a PurchasingCompany); a Customer comes back
    as an empty object because we select no Customer fields in it."""

    company: NamedRef | None = None
    location: NamedRef | None = None


class Order(ShopifyModel):
    id: str
    legacy_resource_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    processed_at: datetime
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed: bool
    display_financial_status: str | None = None
    display_fulfillment_status: str
    email: str | None = None
    phone: str | None = None
    tags: list[str] = Field(default_factory=list)
    custom_attributes: list[Attribute] = Field(default_factory=list)
    source_name: str | None = None
    po_number: str | None = None
    shipping_address: MailingAddress | None = None
    shipping_line: ShippingLine | None = None  # None: the order has no shipping (e.g. digital only)
    total_price_set: MoneyBag
    currency_code: str
    customer: Customer | None = None
    purchasing_entity: PurchasingEntity | None = None
    line_items: list[LineItem] = Field(default_factory=list)
    # True when the first page of line items was not the last; the client completes them.
    line_items_truncated: bool = False
    line_items_cursor: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        return _page(
            data, "lineItems", "line_items", truncated="line_items_truncated", cursor="line_items_cursor"
        )

    @property
    def customer_tags(self) -> list[str]:
        return self.customer.tags if self.customer else []

    @property
    def b2b_company(self) -> NamedRef | None:
        return self.purchasing_entity.company if self.purchasing_entity else None

    @property
    def b2b_location(self) -> NamedRef | None:
        return self.purchasing_entity.location if self.purchasing_entity else None


class VariantComponent(ShopifyModel):
    quantity: int
    product_variant: VariantRef


class InventoryItemRef(ShopifyModel):
    id: str
    tracked: bool = True


class ProductRef(ShopifyModel):
    tags: list[str] = Field(default_factory=list)


class ProductVariant(ShopifyModel):
    id: str
    sku: str | None = None
    barcode: str | None = None
    requires_components: bool
    inventory_item: InventoryItemRef
    product: ProductRef | None = None
    components: list[VariantComponent] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        return _nodes(data, "productVariantComponents", "components")

    @property
    def product_tags(self) -> list[str]:
        return self.product.tags if self.product else []


class Location(ShopifyModel):
    id: str
    legacy_resource_id: str
    name: str
    is_active: bool


class SupportedAction(ShopifyModel):
    action: str


class AssignedLocation(ShopifyModel):
    name: str
    location: IdRef | None = None


class LineItemRef(ShopifyModel):
    id: str
    sku: str | None = None


class FulfillmentOrderLineItem(ShopifyModel):
    id: str
    sku: str | None = None
    remaining_quantity: int
    total_quantity: int
    line_item: LineItemRef


class FulfillmentOrder(ShopifyModel):
    id: str
    status: str
    supported_actions: list[SupportedAction] = Field(default_factory=list)
    assigned_location: AssignedLocation
    line_items: list[FulfillmentOrderLineItem] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        return _nodes(data, "lineItems", "line_items")

    @property
    def actions(self) -> set[str]:
        return {a.action for a in self.supported_actions}

    @property
    def location_id(self) -> str | None:
        return self.assigned_location.location.id if self.assigned_location.location else None


class TrackingInfo(ShopifyModel):
    company: str | None = None
    number: str | None = None
    url: str | None = None
    # Input only (FulfillmentTrackingInput): several parcels on one fulfilment, `urls[i]` the link of
    # `numbers[i]`; never sent with `number` / `url` (Shopify refuses the mix).
    numbers: list[str] | None = None
    urls: list[str] | None = None


class Fulfillment(ShopifyModel):
    id: str
    name: str
    status: str
    tracking_info: list[TrackingInfo] = Field(default_factory=list)
    # The order right after this fulfilment (fulfillmentCreate's answer selects it).
    order: OrderVersionRef | None = None


class FulfillmentLineItem(ShopifyModel):
    quantity: int
    line_item: IdRef


class OrderFulfillment(Fulfillment):
    """A fulfilment read back from an order, with what it fulfilled."""

    created_at: datetime
    line_items: list[FulfillmentLineItem] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        return _nodes(data, "fulfillmentLineItems", "line_items")

    @property
    def quantities(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for item in self.line_items:
            totals[item.line_item.id] = totals.get(item.line_item.id, 0) + item.quantity
        return totals


class OrderFulfilmentState(ShopifyModel):
    """An order's fulfilment orders as they stand, read just before fulfilling."""

    id: str
    updated_at: datetime | None = None
    cancelled_at: datetime | None = None
    display_fulfillment_status: str | None = None
    fulfillment_orders: list[FulfillmentOrder] = Field(default_factory=list)
    fulfillment_orders_truncated: bool = False

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        data = _page(
            data, "fulfillmentOrders", "fulfillment_orders", truncated="fulfillment_orders_truncated"
        )
        # Truncated too when a fulfilment order's own first page of line items was not its last.
        if isinstance(data, dict) and any(
            isinstance(fo, dict) and _page(fo, "lineItems", "line_items", truncated="cut").get("cut")
            for fo in data.get("fulfillment_orders") or []
        ):
            data = {**data, "fulfillment_orders_truncated": True}
        return data


class InventoryLevel(ShopifyModel):
    """One item's named quantities at one location (None: the item is not stocked there)."""

    inventory_item_id: str
    location_id: str
    quantities: dict[str, int] | None
    updated_at: datetime | None = None

    @property
    def available(self) -> int | None:
        return None if self.quantities is None else self.quantities.get("available")


class InventoryChange(ShopifyModel):
    name: str
    delta: int
    quantity_after_change: int | None = None


class InventoryAdjustmentGroup(ShopifyModel):
    id: str
    reason: str
    reference_document_uri: str | None = None
    changes: list[InventoryChange] = Field(default_factory=list)


class WebhookSubscription(ShopifyModel):
    id: str
    topic: str
    uri: str
    format: str | None = None


class CancelJob(ShopifyModel):
    id: str
    done: bool


class StockWrite(BaseModel):
    """One absolute quantity to set; `expected` is the compare-and-set value (None skips it)."""

    inventory_item_id: str
    location_id: str
    quantity: int
    expected: int | None


class StockDelta(BaseModel):
    inventory_item_id: str
    location_id: str
    delta: int
    expected: int | None
