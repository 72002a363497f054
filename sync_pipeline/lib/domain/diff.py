"""What changed between two versions of a Shopify order, as `order_events` audit entries.

Kinds:
- `paid`: the order reached a paid state (first seen paid counts);
- `refunded`: it became REFUNDED or PARTIALLY_REFUNDED;
- `cancelled`: `cancelledAt` was set;
- `lines_changed`: the quantity left to ship changed for some SKU (edit, removal, refund);
- `address_changed`: a shipping-address field changed (fields named; values stay in the ledger);
- `edited`: any other field the warehouse flow reads changed (shipping method, email, phone,
  tags, customer tags, attributes, source).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from .models import ShippingAddress, ShopOrder


class EventKind(StrEnum):
    PAID = "paid"
    EDITED = "edited"
    ADDRESS_CHANGED = "address_changed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    LINES_CHANGED = "lines_changed"


class OrderEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: EventKind
    message: str


PAID_STATUSES = frozenset({"PAID", "PARTIALLY_REFUNDED", "REFUNDED"})
REFUNDED_STATUSES = frozenset({"PARTIALLY_REFUNDED", "REFUNDED"})

_EDITABLE_FIELDS: dict[str, str] = {
    "shipping_line_code": "shipping method code",
    "shipping_line_title": "shipping method",
    "email": "email",
    "phone": "phone",
    "tags": "tags",
    "customer_tags": "customer tags",
    "custom_attributes": "order attributes",
    "source_name": "sales channel",
}


def quantities_by_sku(order: ShopOrder) -> dict[str, int]:
    """Quantity left per SKU; a line without a SKU is keyed by its line id."""
    totals: dict[str, int] = {}
    for line in order.lines:
        key = line.sku if line.sku else f"(no SKU, line {line.id})"
        totals[key] = totals.get(key, 0) + line.quantity
    return totals


def describe_changes(before: ShopOrder | None, after: ShopOrder) -> list[OrderEvent]:
    status = after.financial_status.upper()
    old_status = before.financial_status.upper() if before else None
    events: list[OrderEvent] = []
    if status in PAID_STATUSES and old_status not in PAID_STATUSES:
        events.append(OrderEvent(kind=EventKind.PAID, message=f"{after.name} paid ({status})"))
    if status in REFUNDED_STATUSES and status != old_status:
        events.append(
            OrderEvent(kind=EventKind.REFUNDED, message=f"{after.name} {status.lower().replace('_', ' ')}")
        )
    if after.cancelled_at is not None and (before is None or before.cancelled_at is None):
        events.append(OrderEvent(kind=EventKind.CANCELLED, message=f"{after.name} cancelled in Shopify"))
    if before is None:
        return events
    line_changes = _line_changes(before, after)
    if line_changes:
        events.append(OrderEvent(kind=EventKind.LINES_CHANGED, message=f"{after.name}: {line_changes}"))
    address_fields = _address_fields_changed(before.shipping_address, after.shipping_address)
    if address_fields:
        events.append(
            OrderEvent(
                kind=EventKind.ADDRESS_CHANGED,
                message=f"{after.name}: shipping address changed ({', '.join(address_fields)})",
            )
        )
    edited = [
        label
        for field, label in _EDITABLE_FIELDS.items()
        if getattr(before, field) != getattr(after, field)
        # Customer tags not read yet (None) are no change: they are filled in, not edited.
        and not (field == "customer_tags" and None in (before.customer_tags, after.customer_tags))
    ]
    if edited:
        events.append(OrderEvent(kind=EventKind.EDITED, message=f"{after.name}: changed {', '.join(edited)}"))
    return events


def _line_changes(before: ShopOrder, after: ShopOrder) -> str:
    old, new = quantities_by_sku(before), quantities_by_sku(after)
    parts = [
        f"{sku} {old.get(sku, 0)} → {new.get(sku, 0)}"
        for sku in dict.fromkeys([*old, *new])
        if old.get(sku, 0) != new.get(sku, 0)
    ]
    return "; ".join(parts)


def _address_fields_changed(before: ShippingAddress | None, after: ShippingAddress | None) -> list[str]:
    if before == after:
        return []
    if before is None or after is None:
        return ["whole address " + ("added" if before is None else "removed")]
    return [
        field for field in ShippingAddress.model_fields if getattr(before, field) != getattr(after, field)
    ]
