"""What we send to Peoplevox for one order, and the other two outcomes of translation.

Header and item field names are the Peoplevox template column names on purpose: the
injection code writes `as_csv_row()` straight into SaveData CSV without a mapping table.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from .config.routing import Priority
from .exceptions import OrderException

LINE_MAX_LENGTH = 16
_PLAIN_LINE = re.compile(r"^[A-Za-z0-9_.-]{1,16}$")


def line_reference(item_code: str) -> str:
    """The item row's `Line` (≤ 16 characters), derived from the item code alone.

    It must not depend on row position: an edit that adds an item would shift positions, and a
    later update would then overwrite the wrong row. Short plain codes are used as they are;
    longer ones become a 16-hex-digit digest, stable across runs and processes.
    """
    if _PLAIN_LINE.match(item_code):
        return item_code
    return hashlib.blake2b(item_code.encode("utf-8"), digest_size=8).hexdigest()


def _csv_value(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return "" if value is None else str(value)


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)

    def as_csv_row(self) -> dict[str, str]:
        return {name: _csv_value(value) for name, value in self}


class SalesOrderHeader(_Row):
    SalesOrderNumber: str = Field(max_length=30)
    CustomerPurchaseOrderReferenceNumber: str
    Customer: str
    Email: str
    ContactName: str
    ShippingAddressLine1: str
    ShippingAddressLine2: str
    ShippingAddressCity: str
    ShippingAddressRegion: str
    ShippingAddressPostcode: str
    ShippingAddressCountry: str
    Site: str
    ChannelName: str
    ServiceType: str
    CreatedDate: str  # yyyy-MM-dd HH:mm:ss, UTC
    TotalSale: Decimal
    RequestedDeliveryDate: str  # yyyy-MM-dd HH:mm:ss, UTC


class SalesOrderItem(_Row):
    SalesOrderNumber: str = Field(max_length=30)
    ItemCode: str
    QuantityOrdered: int = Field(ge=1)
    Line: str = Field(max_length=LINE_MAX_LENGTH)
    SalePrice: Decimal  # unit price; the row's value / quantity, to the penny


class TranslatedOrder(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    sales_order_number: str
    header: SalesOrderHeader
    items: tuple[SalesOrderItem, ...]
    # Not a default template column; the injection decides where it goes (e.g. an Attribute).
    priority: Priority
    route_rule: str

    def quantities(self) -> dict[str, int]:
        return {item.ItemCode: item.QuantityOrdered for item in self.items}


class HeldOrder(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    sales_order_number: str
    exceptions: tuple[OrderException, ...] = Field(min_length=1)


class NotForWarehouseReason(StrEnum):
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    NOTHING_TO_SHIP = "nothing_to_ship"


class NotForWarehouse(BaseModel):
    """Nothing for the warehouse to do: a normal outcome (gift cards only, digital goods,
    everything refunded, cancelled, fully refunded), not an exception; the ledger records it and
    moves on. Once the warehouse has the order, any of these means cancelling it there."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    sales_order_number: str
    reason: NotForWarehouseReason
    message: str


TranslationOutcome = TranslatedOrder | HeldOrder | NotForWarehouse
