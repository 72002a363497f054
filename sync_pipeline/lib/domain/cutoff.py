"""What to do in Peoplevox when a Shopify order changes after it was injected.

Before the cut-off status (default Allocated) changes are pushed automatically, but only
changes Peoplevox can apply safely:
- a cancellation, or an edit that leaves nothing to ship → cancel the Peoplevox order;
- new items, higher quantities, a new address, email, contact, service type or channel →
  update (headers by partial-column update, item rows with their new totals).
Peoplevox updates cannot remove lines, and we do not trust lowering quantities or moving an
order between sites by upsert either, so an edit that needs any of those is not applied in
part: the whole change becomes a `needs_manual_edit` exception for CX.
At or after the cut-off nothing is pushed: a `change_after_cutoff` exception for CX says what
changed and what the warehouse has. An unknown status counts as past the cut-off. No change is
ever dropped silently: every outcome is an action or an exception.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from .exceptions import ExceptionKind, OrderException
from .sales_order import HeldOrder, NotForWarehouse, SalesOrderItem, TranslatedOrder, TranslationOutcome
from .statuses import PeoplevoxStatus, parse_status, status_rank

# Header columns an update may change; Site is left out on purpose (moving sites is manual).
UPDATABLE_HEADER_COLUMNS: tuple[str, ...] = (
    "Customer",
    "Email",
    "ContactName",
    "ShippingAddressLine1",
    "ShippingAddressLine2",
    "ShippingAddressCity",
    "ShippingAddressRegion",
    "ShippingAddressPostcode",
    "ShippingAddressCountry",
    "ChannelName",
    "ServiceType",
)


def can_change_in_warehouse(
    current_status: PeoplevoxStatus | str | None, cutoff_status: PeoplevoxStatus | str
) -> bool:
    """True only when the order is known to be strictly before the cut-off and not cancelled."""
    current = parse_status(current_status)
    cutoff = parse_status(cutoff_status)
    if current is None or cutoff is None or current is PeoplevoxStatus.CANCELLED:
        return False
    return status_rank(current) < status_rank(cutoff)


class ChangeAction(StrEnum):
    NONE = "none"
    CANCEL = "cancel"
    UPDATE = "update"
    EXCEPTION = "exception"


class ChangePlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: ChangeAction
    summary: str
    # For UPDATE: changed header columns plus SalesOrderNumber (partial-column update).
    header_updates: dict[str, str] = {}
    # For UPDATE: rows for new item codes and raised quantities, with the new total quantity.
    item_rows: tuple[SalesOrderItem, ...] = ()
    # For EXCEPTION: what to record (owner included).
    exceptions: tuple[OrderException, ...] = ()


def plan_change(
    sent: TranslatedOrder,
    latest: TranslationOutcome,
    warehouse_status: PeoplevoxStatus | str | None,
    cutoff_status: PeoplevoxStatus | str,
) -> ChangePlan:
    """`sent`: what Peoplevox was last given; `latest`: the new Shopify version, translated."""
    wants_cancel = isinstance(latest, NotForWarehouse)
    changes = _describe(sent, latest)
    if not changes:
        return ChangePlan(action=ChangeAction.NONE, summary="no change for the warehouse")
    status = parse_status(warehouse_status)
    what_changed = "; ".join(changes)
    if status is PeoplevoxStatus.CANCELLED:
        if wants_cancel:
            return ChangePlan(action=ChangeAction.NONE, summary="already cancelled in Peoplevox")
        return _after_cutoff(sent, what_changed, "Cancelled")
    if not can_change_in_warehouse(status, cutoff_status):
        shown = status.value if status else f"unknown ({warehouse_status!r})"
        return _after_cutoff(sent, what_changed, shown)
    if wants_cancel:
        return ChangePlan(action=ChangeAction.CANCEL, summary=what_changed)
    if isinstance(latest, HeldOrder):
        return ChangePlan(action=ChangeAction.EXCEPTION, summary=what_changed, exceptions=latest.exceptions)
    assert isinstance(latest, TranslatedOrder)
    blockers = _manual_only(sent, latest)
    if blockers:
        message = (
            f"sales order {sent.sales_order_number}: Shopify changed ({what_changed}) but "
            f"{'; '.join(blockers)} cannot be applied automatically; nothing was pushed. "
            f"Peoplevox has: {contents(sent)}"
        )
        return ChangePlan(
            action=ChangeAction.EXCEPTION,
            summary=what_changed,
            exceptions=(OrderException.of(ExceptionKind.NEEDS_MANUAL_EDIT, message),),
        )
    return ChangePlan(
        action=ChangeAction.UPDATE,
        summary=what_changed,
        header_updates=_header_updates(sent, latest),
        item_rows=tuple(_raised_rows(sent, latest)),
    )


def _describe(sent: TranslatedOrder, latest: TranslationOutcome) -> list[str]:
    if isinstance(latest, NotForWarehouse):
        return [latest.message]
    if isinstance(latest, HeldOrder):
        return ["the edited order can no longer be sent: " + "; ".join(e.message for e in latest.exceptions)]
    changes: list[str] = []
    before, after = sent.quantities(), latest.quantities()
    for code in dict.fromkeys([*before, *after]):
        if before.get(code, 0) != after.get(code, 0):
            changes.append(f"{code} {before.get(code, 0)} → {after.get(code, 0)}")
    if sent.header.Site != latest.header.Site:
        changes.append(f"site {sent.header.Site} → {latest.header.Site}")
    changed_columns = [
        c for c in UPDATABLE_HEADER_COLUMNS if getattr(sent.header, c) != getattr(latest.header, c)
    ]
    if changed_columns:
        changes.append("changed " + ", ".join(changed_columns))
    return changes


def _manual_only(sent: TranslatedOrder, latest: TranslatedOrder) -> list[str]:
    blockers: list[str] = []
    before, after = sent.quantities(), latest.quantities()
    for code, quantity in before.items():
        if after.get(code, 0) < quantity:
            verb = "removing" if code not in after else "lowering"
            blockers.append(f"{verb} {code} ({quantity} → {after.get(code, 0)})")
    if sent.header.Site != latest.header.Site:
        blockers.append(f"moving the order from site {sent.header.Site} to {latest.header.Site}")
    return blockers


def _header_updates(sent: TranslatedOrder, latest: TranslatedOrder) -> dict[str, str]:
    new = latest.header.as_csv_row()
    changed = {
        c: new[c] for c in UPDATABLE_HEADER_COLUMNS if getattr(sent.header, c) != getattr(latest.header, c)
    }
    return {"SalesOrderNumber": sent.sales_order_number, **changed} if changed else {}


def _raised_rows(sent: TranslatedOrder, latest: TranslatedOrder) -> list[SalesOrderItem]:
    before = sent.quantities()
    return [item for item in latest.items if item.QuantityOrdered > before.get(item.ItemCode, 0)]


def contents(order: TranslatedOrder) -> str:
    """What a sales order holds, for people: `CODE × n, …`."""
    return ", ".join(f"{item.ItemCode} × {item.QuantityOrdered}" for item in order.items) or "no items"


def _after_cutoff(sent: TranslatedOrder, what_changed: str, status: str) -> ChangePlan:
    message = (
        f"sales order {sent.sales_order_number} is {status} in Peoplevox, past the point where changes "
        f"are pushed automatically. Shopify changed: {what_changed}. Peoplevox has: {contents(sent)} "
        f"to {sent.header.ContactName}, {sent.header.ShippingAddressPostcode} {sent.header.ShippingAddressCountry}"
    )
    return ChangePlan(
        action=ChangeAction.EXCEPTION,
        summary=what_changed,
        exceptions=(OrderException.of(ExceptionKind.CHANGE_AFTER_CUTOFF, message),),
    )


def applied_update(
    sent: TranslatedOrder,
    latest: TranslatedOrder,
    plan: ChangePlan,
    header_accepted: bool,
    items_accepted: tuple[bool, ...],
) -> TranslatedOrder:
    """What Peoplevox holds after an UPDATE plan was pushed and it accepted only some rows.

    `items_accepted` pairs with `plan.item_rows`. Peoplevox applies each row of a SaveData call
    on its own, so a refused row leaves that part of the order as it was, and the next plan must
    start from exactly this.
    """
    header = sent.header
    if plan.header_updates and header_accepted:
        changed = {c: getattr(latest.header, c) for c in plan.header_updates if c != "SalesOrderNumber"}
        header = header.model_copy(update=changed)
    items = {item.ItemCode: item for item in sent.items}
    for row, accepted in zip(plan.item_rows, items_accepted, strict=True):
        if accepted:
            items[row.ItemCode] = row
    return sent.model_copy(update={"header": header, "items": tuple(items.values())})
