"""What happens to an order's money and goods after it is placed: captures, refunds and returns.

The demo's traffic (and the finance tests) do these the way a merchant and a warehouse do: a
capture and a refund go through the Admin API as staff would from the Shopify admin
(`orderCapture`; `refundCreate` paying back exactly what Shopify's `suggestedRefund` says), and a
return is booked in the Peoplevox simulator for goods it really despatched. Finance's
reconciliation then has real captures, partial refunds and returns (refunded or not) to find.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from sync_pipeline.lib.domain.sales_order_number import sales_order_number
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl


class NothingToDo(Exception):
    """The follow-up found nothing to act on (not despatched yet, nothing left to refund)."""


def refund_as_suggested(admin: ShopifyClient, order_id: str, lines: dict[str, tuple[int, str]]) -> None:
    """Refund `{line item id: (units, restock type)}`, paying back what Shopify suggests, from the
    payments it names (a merchant pressing Refund in the admin)."""
    suggestion = admin.suggest_refund(order_id, lines)
    back = [(t.parent_transaction.id, t.amount_set.presentment, t.gateway or "manual")
            for t in suggestion.suggested_transactions if t.parent_transaction]  # fmt: skip
    admin.create_refund(order_id, lines, back)


def capture_all(admin: ShopifyClient, order_id: str) -> None:
    """Capture everything an authorised order still has capturable, in one final capture."""
    (money,) = admin.get_orders_money([order_id])
    left: Decimal = money.total_capturable_set.presentment
    auth = next((t for t in money.transactions if t.kind == "AUTHORIZATION" and t.status == "SUCCESS"), None)
    if auth is None or left <= 0:
        raise NothingToDo(f"{money.name} has nothing to capture")
    admin.capture_payment(order_id, auth.id, left, money.presentment_currency_code, final=True)


def refund_one_unit(admin: ShopifyClient, order_id: str, restock: str, sku: str | None = None) -> None:
    """Refund one unit of the first line still on the order (of `sku`, if given)."""
    (money,) = admin.get_orders_money([order_id])
    line = next((li for li in money.line_items if li.current_quantity > 0 and sku in (None, li.sku)), None)
    if line is None:
        raise NothingToDo(f"{money.name} has no unit of {sku or 'any line'} left to refund")
    refund_as_suggested(admin, order_id, {line.id: (1, restock)})


@dataclass(frozen=True)
class Warehouse:
    control: PeoplevoxControl
    prefix: str  # orders.yaml sales_order_prefix: how the orders flow numbers our sales orders


def _returnable(warehouse: Warehouse, number: str) -> Counter[str]:
    """Units the warehouse despatched on this sales order and has not had back, by item code."""
    state = warehouse.control.state()
    out: Counter[str] = Counter()
    for despatch in state.despatches:
        if despatch.sales_order_number == number:
            for package in despatch.packages:
                out.update(package.items)
    for r in state.returns:
        if r["sales_order_number"] == number:
            out[r["item_code"]] -= r["quantity"]
    return +out


def return_one_unit(warehouse: Warehouse, order_id: str, reason: str, reusable: bool = True) -> str:
    """Book in Peoplevox the return of one unit the warehouse despatched for this order and has not
    had back, graded reusable (back on the shelf) or not (written off); returns its item code."""
    number = sales_order_number(order_id, warehouse.prefix)
    code = min(_returnable(warehouse, number), default=None)
    if code is None:
        raise NothingToDo(f"{number} has nothing despatched to return")
    warehouse.control.process_return(number, code, 1, reason, reusable=reusable)
    return code


def return_parcel(warehouse: Warehouse, order_id: str, grades: list[bool]) -> str:
    """Book in Peoplevox one return (one return code) of a unit per grade (reusable or not), of the
    units despatched and not had back, so one parcel holds several items or one item graded two
    ways; returns the return code."""
    number = sales_order_number(order_id, warehouse.prefix)
    left = _returnable(warehouse, number)
    units = [c for c in sorted(left) for _ in range(left[c])][: len(grades)]
    if not grades or len(units) < len(grades):
        raise NothingToDo(f"{number} has fewer than {len(grades)} units despatched to return")
    booked: str | None = None
    for code, reusable in zip(units, grades, strict=True):
        reason = "Changed mind" if reusable else "Damaged"
        booked = warehouse.control.process_return(number, code, 1, reason, reusable, booked)
    return booked or ""
