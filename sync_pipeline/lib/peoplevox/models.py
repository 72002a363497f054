"""Typed rows for the templates and reports the flows use.

Field aliases are the Peoplevox column names. Reading: blank cells become None, dates are
parsed from the template (``yyyy-MM-dd HH:mm:ss``) or report (``'dd/MM/yyyy HH:mm'``) format
as UTC. Writing: `to_row()` returns only the fields that were set, so a partial update never
blanks a column by accident (blank values overwrite data in Peoplevox).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y")
# The two shapes Peoplevox writes, all digits given: a report's 'dd/MM/yyyy HH:mm' and a
# template's yyyy-MM-dd HH:mm:ss. Read with int() rather than strptime, which tried the formats in
# turn and raised for each that failed: a report date took three attempts, and parsing them was a
# fifth of the despatch read step's Python time at a peak (session 20 profile).
_REPORT_DATE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4}) ([0-9]{2}):([0-9]{2})")
_TEMPLATE_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})")


def parse_pvx_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    text = str(value).strip().strip("'").strip()
    if not text:
        return None
    quick = _quick_datetime(text)
    if quick is not None:
        return quick
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return datetime.fromisoformat(text)


def _quick_datetime(text: str) -> datetime | None:
    """`text` in one of Peoplevox's two usual shapes as UTC, or None: then the formats are tried
    in turn, as before, so anything else (an impossible date in these shapes too) is read, or
    refused, exactly as strptime reads it."""
    try:
        if found := _REPORT_DATE.fullmatch(text):
            day, month, year, hour, minute = map(int, found.groups())
            return datetime(year, month, day, hour, minute, tzinfo=UTC)
        if found := _TEMPLATE_DATE.fullmatch(text):
            year, month, day, hour, minute, second = map(int, found.groups())
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    return None


class PvxRow(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=False)
    TEMPLATE: ClassVar[str]
    IS_REPORT: ClassVar[bool] = False

    @field_validator("*", mode="before")
    @classmethod
    def blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    def to_row(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_unset=True)


def _dates(*names: str) -> Any:
    return field_validator(*names, mode="before")(parse_pvx_datetime)


class SalesOrder(PvxRow):
    TEMPLATE: ClassVar[str] = "Sales orders"
    sales_order_number: str = Field(alias="SalesOrderNumber", max_length=30)
    customer: str | None = Field(None, alias="Customer")
    customer_purchase_order_reference_number: str | None = Field(
        None, alias="CustomerPurchaseOrderReferenceNumber"
    )
    shipping_address_line1: str | None = Field(None, alias="ShippingAddressLine1")
    shipping_address_line2: str | None = Field(None, alias="ShippingAddressLine2")
    shipping_address_city: str | None = Field(None, alias="ShippingAddressCity")
    shipping_address_region: str | None = Field(None, alias="ShippingAddressRegion")
    shipping_address_postcode: str | None = Field(None, alias="ShippingAddressPostcode")
    shipping_address_country: str | None = Field(None, alias="ShippingAddressCountry")
    invoice_address_line1: str | None = Field(None, alias="InvoiceAddressLine1")
    invoice_address_line2: str | None = Field(None, alias="InvoiceAddressLine2")
    invoice_address_city: str | None = Field(None, alias="InvoiceAddressCity")
    invoice_address_region: str | None = Field(None, alias="InvoiceAddressRegion")
    invoice_address_postcode: str | None = Field(None, alias="InvoiceAddressPostcode")
    invoice_address_country: str | None = Field(None, alias="InvoiceAddressCountry")
    is_partial_shipment: bool | None = Field(None, alias="IsPartialShipment")
    status: str | None = Field(None, alias="Status")
    requested_delivery_date: datetime | None = Field(None, alias="RequestedDeliveryDate")
    shipping_cost: Decimal | None = Field(None, alias="ShippingCost")
    email: str | None = Field(None, alias="Email")
    contact_name: str | None = Field(None, alias="ContactName")
    total_sale: Decimal | None = Field(None, alias="TotalSale")
    discount: Decimal | None = Field(None, alias="Discount")
    tax_paid: Decimal | None = Field(None, alias="TaxPaid")
    created_date: datetime | None = Field(None, alias="CreatedDate")
    payment_method: str | None = Field(None, alias="PaymentMethod")
    service_type: str | None = Field(None, alias="ServiceType")
    channel_name: str | None = Field(None, alias="ChannelName")
    site: str | None = Field(None, alias="Site")
    on_hold: bool | None = Field(None, alias="OnHold")
    attribute1: str | None = Field(None, alias="Attribute1")
    attribute2: str | None = Field(None, alias="Attribute2")
    attribute3: str | None = Field(None, alias="Attribute3")
    despatch_tracking_number: str | None = Field(None, alias="DespatchTrackingNumber")
    carrier_name: str | None = Field(None, alias="CarrierName")

    validate_dates = _dates("requested_delivery_date", "created_date")


class SalesOrderItem(PvxRow):
    TEMPLATE: ClassVar[str] = "Sales order items"
    sales_order_number: str = Field(alias="SalesOrderNumber", max_length=30)
    item_code: str = Field(alias="ItemCode")
    quantity_ordered: int = Field(alias="QuantityOrdered", gt=0)
    line: str = Field(alias="Line", max_length=16)
    sequence: int | None = Field(None, alias="Sequence")
    sale_price: Decimal | None = Field(None, alias="SalePrice")
    requested_delivery_date: datetime | None = Field(None, alias="RequestedDeliveryDate")

    validate_dates = _dates("requested_delivery_date")


class ItemType(PvxRow):
    TEMPLATE: ClassVar[str] = "Item types"
    item_code: str = Field(alias="ItemCode")
    name: str | None = Field(None, alias="Name")
    barcode: str | None = Field(None, alias="Barcode")
    item_group: str | None = Field(None, alias="ItemGroup")
    retail_price: Decimal | None = Field(None, alias="RetailPrice")
    description: str | None = Field(None, alias="Description")
    weight: Decimal | None = Field(None, alias="Weight")


class DespatchSummaryRow(PvxRow):
    TEMPLATE: ClassVar[str] = "Despatch summary"
    IS_REPORT: ClassVar[bool] = True
    sales_order_number: str = Field(alias="Salesorder number")
    despatch_number: str = Field(alias="Despatch number")
    despatch_date: datetime | None = Field(None, alias="Despatch date")
    carrier: str | None = Field(None, alias="Carrier")
    service: str | None = Field(None, alias="Service")
    tracking_number: str | None = Field(None, alias="Tracking number")
    item_code: str = Field(alias="Item code")
    item_barcode: str | None = Field(None, alias="Item barcode")
    number_of_items: int = Field(alias="No of items")
    site_reference: str | None = Field(None, alias="Site reference")
    customer_order_reference: str | None = Field(None, alias="Customer order reference")
    channel_name: str | None = Field(None, alias="Channel name")
    email: str | None = Field(None, alias="Email")

    validate_dates = _dates("despatch_date")


class ItemInventorySummaryRow(PvxRow):
    TEMPLATE: ClassVar[str] = "Item inventory summary"
    IS_REPORT: ClassVar[bool] = True
    item_code: str = Field(alias="Item code")
    item_barcode: str | None = Field(None, alias="Item barcode")
    name: str | None = Field(None, alias="Name")
    site_reference: str | None = Field(None, alias="Site reference")
    on_hand: int | None = Field(None, alias="On hand")
    allocated: int | None = Field(None, alias="Allocated")
    available: int = Field(alias="Available")


class SalesOrderSummaryRow(PvxRow):
    """One sales order's status and when it last changed. The report's name is confirmed (API.md
    §8); its columns are assumed (the sales order's `LastModificationTime` is confirmed by the
    SalesOrderStatusChanges event, §9). Report dates have minute precision."""

    TEMPLATE: ClassVar[str] = "Sales order summary"
    IS_REPORT: ClassVar[bool] = True
    sales_order_number: str = Field(alias="Sales order number")
    status: str = Field(alias="Status")
    last_modification_time: datetime = Field(alias="Last modification time")

    validate_dates = _dates("last_modification_time")


class ReturnSummaryRow(PvxRow):
    """One item of one processed return. The labels up to `Return condition` are confirmed (API.md
    §8); `Return date` and `Site reference` are assumed (the finance flow reads by return date)."""

    TEMPLATE: ClassVar[str] = "Return summary"
    IS_REPORT: ClassVar[bool] = True
    return_code: str = Field(alias="Return code")
    sales_order_number: str = Field(alias="Sales order number")
    item_code: str = Field(alias="Item code")
    quantity: int = Field(alias="Quantity")
    return_reason: str | None = Field(None, alias="Return reason")
    return_condition: str | None = Field(None, alias="Return condition")
    return_date: datetime | None = Field(None, alias="Return date")
    site_reference: str | None = Field(None, alias="Site reference")

    validate_dates = _dates("return_date")
