"""Reports for GetReportData / GetReportColumns, with the UI column labels (API.md §8).

``Despatch summary`` has one row per item per package: a multi-package despatch shows its
package numbers (``DES00042-1``) in ``Despatch number``, each with its own tracking number.
``Despatch package summary`` is the package-level report: the column labels are confirmed
(API.md §8) but the report's name is not, so the name is ours. One row per item per package, with
``Package number`` and its ``Despatch number`` apart, and a blank tracking number until the carrier's
number arrives (late tracking).
``Item inventory summary`` has one row per item type and site, zeros included.
``Sales order summary`` is a report Peoplevox names (API.md §8) whose columns are not confirmed:
ours are one row per sales order with its status and ``Last modification time`` (the sales
order's ``LastModificationTime``, which the SalesOrderStatusChanges event carries, §9): the
latest of its import, its last edit and its last status change. The orders flow reads statuses
from it a page of 1,000 orders at a time (docs/peoplevox_sandbox.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sync_pipeline.sandbox.peoplevox.clause_parser import Column
from sync_pipeline.sandbox.peoplevox.warehouse import Warehouse

Row = dict[str, Any]
INVENTORY_REPORT = "Item inventory summary"

INVENTORY_COLUMNS = (
    Column("Item code", str),
    Column("Item barcode", str),
    Column("Name", str),
    Column("Site reference", str),
    Column("On hand", int),
    Column("Allocated", int),
    Column("Available", int),
)
DESPATCH_SUMMARY_COLUMNS = (
    Column("Salesorder number", str),
    Column("Despatch number", str),
    Column("Despatch date", datetime),
    Column("Carrier", str),
    Column("Service", str),
    Column("Tracking number", str),
    Column("Item code", str),
    Column("Item barcode", str),
    Column("No of items", int),
    Column("Site reference", str),
    Column("Customer order reference", str),
    Column("Channel name", str),
    Column("Email", str),
)
DESPATCH_PACKAGE_COLUMNS = (
    Column("Package number", str),
    Column("Despatch number", str),
    Column("Salesorder number", str),
    Column("Package tracking number", str),
    Column("Carrier", str),
    Column("Service", str),
    Column("Item code", str),
    Column("Item quantity", int),
    Column("Package despatch timestamp", datetime),
    Column("Sales order is partial despatched", bool),
    Column("Sales order status", str),
    Column("Site reference", str),
)
SALES_ORDER_SUMMARY_REPORT = "Sales order summary"
SALES_ORDER_SUMMARY_COLUMNS = (
    Column("Sales order number", str),
    Column("Status", str),
    Column("Site reference", str),
    Column("Channel name", str),
    Column("Created date", datetime),
    Column("Last modification time", datetime),
)
RETURN_SUMMARY_COLUMNS = (
    Column("Return code", str),
    Column("Sales order number", str),
    Column("Item code", str),
    Column("Quantity", int),
    Column("Return reason", str),
    # The label is confirmed (API.md §8); the values are not: the sandbox says "Reusable" for a
    # unit put back on the shelf and "Not reusable" for one quarantined.
    Column("Return condition", str),
    Column("Return date", datetime),
    Column("Site reference", str),
)


def _inventory_rows(w: Warehouse) -> list[Row]:
    rows = []
    for item in w.items.values():
        for site in w.settings.sites:
            level = w.stock.get((item.item_code, site))
            on_hand, allocated = (level.on_hand, level.allocated) if level else (0, 0)
            rows.append(
                {
                    "Item code": item.item_code,
                    "Item barcode": item.barcode,
                    "Name": item.name,
                    "Site reference": site,
                    "On hand": on_hand,
                    "Allocated": allocated,
                    "Available": on_hand - allocated,
                }
            )
    return rows


def _despatch_summary_rows(w: Warehouse) -> list[Row]:
    rows = []
    for despatch in w.despatches.values():
        order = w.orders[despatch.sales_order_number]
        for package in despatch.packages:
            for code, qty in package.items.items():
                item = w.items.get(code)
                rows.append(
                    {
                        "Salesorder number": despatch.sales_order_number,
                        "Despatch number": package.number,
                        "Despatch date": despatch.despatched_at,
                        "Carrier": package.carrier,
                        "Service": package.service,
                        "Tracking number": package.tracking_number,
                        "Item code": code,
                        "Item barcode": item.barcode if item else "",
                        "No of items": qty,
                        "Site reference": despatch.site,
                        "Customer order reference": order.fields.get("CustomerPurchaseOrderReferenceNumber")
                        or "",
                        "Channel name": order.channel,
                        "Email": order.fields.get("Email") or "",
                    }
                )
    return rows


def _despatch_package_rows(w: Warehouse) -> list[Row]:
    rows = []
    for despatch in w.despatches.values():
        order = w.orders[despatch.sales_order_number]
        for package in despatch.packages:
            for code, qty in package.items.items():
                rows.append(
                    {
                        "Package number": package.number,
                        "Despatch number": despatch.number,
                        "Salesorder number": despatch.sales_order_number,
                        "Package tracking number": package.tracking_number,
                        "Carrier": package.carrier,
                        "Service": package.service,
                        "Item code": code,
                        "Item quantity": qty,
                        "Package despatch timestamp": despatch.despatched_at,
                        "Sales order is partial despatched": order.partially_despatched,
                        "Sales order status": order.status,
                        "Site reference": despatch.site,
                    }
                )
    return rows


def _sales_order_summary_rows(w: Warehouse) -> list[Row]:
    return [
        {
            "Sales order number": order.number,
            "Status": w.reported_status(order.status),
            "Site reference": order.site,
            "Channel name": order.channel,
            "Created date": order.created_at,
            "Last modification time": max(
                moment for moment in (order.created_at, order.status_since, order.last_edit) if moment
            ),
        }
        for order in w.orders.values()
    ]


def _return_rows(w: Warehouse) -> list[Row]:
    return [
        {
            "Return code": r.code,
            "Sales order number": r.sales_order_number,
            "Item code": r.item_code,
            "Quantity": r.quantity,
            "Return reason": r.reason,
            "Return condition": "Reusable" if r.reusable else "Not reusable",
            "Return date": r.returned_at,
            "Site reference": r.site,
        }
        for r in w.returns
    ]


@dataclass(frozen=True)
class Report:
    name: str
    columns: tuple[Column, ...]
    rows: Callable[[Warehouse], list[Row]]


REPORTS: dict[str, Report] = {
    r.name.lower(): r
    for r in (
        Report(INVENTORY_REPORT, INVENTORY_COLUMNS, _inventory_rows),
        Report("Despatch summary", DESPATCH_SUMMARY_COLUMNS, _despatch_summary_rows),
        Report("Despatch package summary", DESPATCH_PACKAGE_COLUMNS, _despatch_package_rows),
        Report("Return summary", RETURN_SUMMARY_COLUMNS, _return_rows),
        Report(SALES_ORDER_SUMMARY_REPORT, SALES_ORDER_SUMMARY_COLUMNS, _sales_order_summary_rows),
    )
}


def find_report(name: str) -> Report | None:
    return REPORTS.get(name.strip().lower())
