"""Integration templates: their columns, how GetData reads them and how SaveData writes them.

Column names follow API.md §7. ``Despatches`` and ``Despatch packages`` are export-only here
(their real columns are not confirmed; ours are listed in docs/peoplevox_sandbox.md).
Sales orders cannot be deleted (Action 2): they are cancelled with ``Status=Cancelled``.
Action 1 ("do not allocate") imports a sales order that the warehouse will not allocate until
it is saved again with Action 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sync_pipeline.sandbox.peoplevox.clause_parser import Column
from sync_pipeline.sandbox.peoplevox.warehouse import Warehouse, WarehouseError

Row = dict[str, Any]

_ADDRESS = ("Line1", "Line2", "City", "Region", "Postcode", "Country")
_ATTRS5 = tuple(f"Attribute{i}" for i in range(1, 6))
_ATTRS15 = tuple(f"Attribute{i}" for i in range(1, 16))  # item types have 15 (API.md §7)


def _cols(*spec: tuple[str, type] | str) -> tuple[Column, ...]:
    return tuple(Column(s, str) if isinstance(s, str) else Column(*s) for s in spec)


SALES_ORDER_COLUMNS = _cols(
    "SalesOrderNumber",
    "Customer",
    "CustomerPurchaseOrderReferenceNumber",
    *(f"ShippingAddress{p}" for p in _ADDRESS),
    "ShippingAddressReference",
    *(f"InvoiceAddress{p}" for p in _ADDRESS),
    ("IsPartialShipment", bool),
    "Status",
    ("RequestedDeliveryDate", datetime),
    ("ShippingCost", Decimal),
    "Email",
    "ContactName",
    ("TotalSale", Decimal),
    ("Discount", Decimal),
    ("TaxPaid", Decimal),
    ("CreatedDate", datetime),
    "PaymentMethod",
    "ServiceType",
    "ChannelName",
    "Site",
    ("OnHold", bool),
    *_ATTRS5,
    "DespatchTrackingNumber",
    "CarrierName",
)
SALES_ORDER_ITEM_COLUMNS = _cols(
    "SalesOrderNumber",
    "ItemCode",
    ("QuantityOrdered", int),
    ("RequestedDeliveryDate", datetime),
    "Line",
    ("Sequence", int),
    ("SalePrice", Decimal),
)
ITEM_TYPE_COLUMNS = _cols(
    "ItemCode",
    "Name",
    "Barcode",
    "ItemGroup",
    ("RetailPrice", Decimal),
    "Description",
    ("Weight", Decimal),
    ("Height", Decimal),
    ("Width", Decimal),
    ("Depth", Decimal),
    "Tags",
    *_ATTRS15,
)
CUSTOMER_COLUMNS = _cols(
    "Name",
    "Reference",
    "FirstName",
    "LastName",
    "Phone",
    "Mobile",
    "Email",
    ("CreditLimit", Decimal),
    "CreditStatus",
    ("Wholesaler", bool),
)
DESPATCH_COLUMNS = _cols(
    "DespatchNumber",
    "SalesOrderNumber",
    ("DespatchDate", datetime),
    "CarrierName",
    "ServiceType",
    "TrackingNumber",
    ("NumberOfPackages", int),
    "SiteReference",
)
DESPATCH_PACKAGE_COLUMNS = _cols(
    "PackageNumber",
    "DespatchNumber",
    "SalesOrderNumber",
    "CarrierName",
    "ServiceType",
    "TrackingNumber",
    ("DespatchDate", datetime),
    ("NumberOfItems", int),
)


def _sales_order_rows(w: Warehouse) -> list[Row]:
    rows = []
    for order in w.orders.values():
        row = dict(order.fields)
        row.update(
            SalesOrderNumber=order.number,
            Status=w.reported_status(order.status),
            Site=order.site,
            ServiceType=order.service_type,
            CreatedDate=order.fields.get("CreatedDate") or order.created_at,
        )
        rows.append(row)
    return rows


def _sales_order_item_rows(w: Warehouse) -> list[Row]:
    return [
        {
            **line.fields,
            "SalesOrderNumber": order.number,
            "ItemCode": line.item_code,
            "QuantityOrdered": line.quantity_ordered,
            "Line": line.line,
        }
        for order in w.orders.values()
        for line in order.lines.values()
    ]


def _item_type_rows(w: Warehouse) -> list[Row]:
    return [
        {**i.fields, "ItemCode": i.item_code, "Name": i.name, "Barcode": i.barcode} for i in w.items.values()
    ]


# Export-only. Peoplevox has `Sites` and `Service types` templates (API.md §7) but their columns are
# not confirmed; ours are the smallest guess (docs/peoplevox_sandbox.md). The audit reads only
# `Reference` of a site and `Name` of a service type, the values routing.yaml must match.
SITE_COLUMNS = _cols("Reference", "Name")
SERVICE_TYPE_COLUMNS = _cols("Name", "Code", "CarrierName")


def _site_rows(w: Warehouse) -> list[Row]:
    return [{"Reference": site, "Name": site} for site in w.settings.sites]


def _service_type_rows(w: Warehouse) -> list[Row]:
    return [{"Name": t.name, "Code": t.code, "CarrierName": t.carrier} for t in w.settings.service_types]


def _customer_rows(w: Warehouse) -> list[Row]:
    return [dict(c) for c in w.customers.values()]


def _despatch_rows(w: Warehouse) -> list[Row]:
    return [
        {
            "DespatchNumber": d.number,
            "SalesOrderNumber": d.sales_order_number,
            "DespatchDate": d.despatched_at,
            "CarrierName": d.packages[0].carrier if d.packages else "",
            "ServiceType": d.service_type,
            "TrackingNumber": d.packages[0].tracking_number if d.packages else "",
            "NumberOfPackages": len(d.packages),
            "SiteReference": d.site,
        }
        for d in w.despatches.values()
    ]


def _package_rows(w: Warehouse) -> list[Row]:
    return [
        {
            "PackageNumber": p.number,
            "DespatchNumber": d.number,
            "SalesOrderNumber": d.sales_order_number,
            "CarrierName": p.carrier,
            "ServiceType": d.service_type,
            "TrackingNumber": p.tracking_number,
            "DespatchDate": d.despatched_at,
            "NumberOfItems": sum(p.items.values()),
        }
        for d in w.despatches.values()
        for p in d.packages
    ]


def _save_sales_order(w: Warehouse, row: Row, action: int) -> None:
    if action == 2:
        raise WarehouseError("Sales orders cannot be deleted; cancel them with Status=Cancelled")
    number = row.pop("SalesOrderNumber")
    if len(number) > 30:
        raise WarehouseError("SalesOrderNumber is longer than 30 characters")
    w.upsert_order(number, row, allocate=action == 0)


def _save_sales_order_item(w: Warehouse, row: Row, action: int) -> None:
    if action == 2:
        raise WarehouseError("Sales order lines cannot be removed")
    for required in ("ItemCode", "QuantityOrdered", "Line"):
        if row.get(required) is None:
            raise WarehouseError(f"{required} is required")
    if len(row["Line"]) > 16:
        raise WarehouseError("Line is longer than 16 characters")
    number, code, qty, line = (
        row.pop(k) for k in ("SalesOrderNumber", "ItemCode", "QuantityOrdered", "Line")
    )
    w.upsert_line(number, line, code, qty, row)


def _save_item_type(w: Warehouse, row: Row, action: int) -> None:
    code = row.pop("ItemCode")
    if action == 2:
        w.delete_item(code)
        return
    existing = w.items.get(code)
    if "Barcode" not in row and existing is not None:
        row["Barcode"] = existing.barcode
    barcode = row.pop("Barcode", None)
    if not barcode:
        raise WarehouseError("Barcode is required")
    name = row.pop("Name", None) or ""
    w.upsert_item(code, barcode, name, **row)


def _save_customer(w: Warehouse, row: Row, action: int) -> None:
    reference = row["Reference"]
    with w.lock:
        if action == 2:
            if w.customers.pop(reference, None) is None:
                raise WarehouseError(f"Customer '{reference}' does not exist")
            return
        w.customers.setdefault(reference, {}).update(row)


@dataclass(frozen=True)
class Template:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    rows: Callable[[Warehouse], list[Row]]
    save: Callable[[Warehouse, Row, int], None] | None = None

    def column(self, name: str) -> Column | None:
        for column in self.columns:
            if column.name.lower() == name.strip().lower():
                return column
        return None


TEMPLATES: dict[str, Template] = {
    t.name.lower(): t
    for t in (
        Template(
            "Sales orders", SALES_ORDER_COLUMNS, ("SalesOrderNumber",), _sales_order_rows, _save_sales_order
        ),
        Template(
            "Sales order items",
            SALES_ORDER_ITEM_COLUMNS,
            ("SalesOrderNumber", "Line"),
            _sales_order_item_rows,
            _save_sales_order_item,
        ),
        Template("Item types", ITEM_TYPE_COLUMNS, ("ItemCode",), _item_type_rows, _save_item_type),
        Template("Customers", CUSTOMER_COLUMNS, ("Reference",), _customer_rows, _save_customer),
        Template("Despatches", DESPATCH_COLUMNS, ("DespatchNumber",), _despatch_rows),
        Template("Despatch packages", DESPATCH_PACKAGE_COLUMNS, ("PackageNumber",), _package_rows),
        Template("Sites", SITE_COLUMNS, ("Reference",), _site_rows),
        Template("Service types", SERVICE_TYPE_COLUMNS, ("Name",), _service_type_rows),
    )
}


def find_template(name: str) -> Template | None:
    return TEMPLATES.get(name.strip().lower())
