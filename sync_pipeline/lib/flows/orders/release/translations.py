"""Helpers every release step shares: stored translations, snapshots, batches, compare-and-set."""

from collections.abc import Sequence
from decimal import Decimal
from typing import TypeVar

from sync_pipeline.lib.domain.cutoff import UPDATABLE_HEADER_COLUMNS
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.sales_order import (
    SalesOrderHeader,
    SalesOrderItem,
    TranslatedOrder,
    line_reference,
)
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.ports import WarehouseOrder
from sync_pipeline.lib.ledger import orders as ledger_orders

R = TypeVar("R", SalesOrderHeader, SalesOrderItem)


def stored_translation(header: dict | None, items: list | None) -> TranslatedOrder | None:
    if not header:
        return None
    return TranslatedOrder.model_validate({**header, "items": items or []})


def translation_record(translated: TranslatedOrder) -> tuple[dict, list]:
    header = translated.model_dump(mode="json", exclude={"items"})
    return header, [item.model_dump(mode="json") for item in translated.items]


def as_held(sent: TranslatedOrder, found: WarehouseOrder) -> TranslatedOrder:
    """`sent` as Peoplevox reports holding it: the header columns a change may set and the item
    quantities it reports (an item it has that `sent` lacks, from a change whose answer was lost,
    is kept: what the ledger records must be what Peoplevox holds)."""
    reported = {c: found.header[c] for c in UPDATABLE_HEADER_COLUMNS if c in found.header}
    by_code = {item.ItemCode: item for item in sent.items}
    items = tuple(
        (by_code.get(code) or _reported_item(sent.sales_order_number, code)).model_copy(
            update={"QuantityOrdered": quantity}
        )
        for code, quantity in found.item_quantities.items()
    )
    return sent.model_copy(update={"header": sent.header.model_copy(update=reported), "items": items})


def _reported_item(number: str, code: str) -> SalesOrderItem:
    return SalesOrderItem(
        SalesOrderNumber=number,
        ItemCode=code,
        QuantityOrdered=1,
        Line=line_reference(code),
        SalePrice=Decimal("0"),
    )


def batches(rows: Sequence, size: int) -> list[Sequence]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def still_releasable(row: ledger_orders.OrderRow | None, order: ShopOrder) -> bool:
    """Compare-and-set: the row is still one release may act on, holding the version we translated.

    Compared by content, not by `updatedAt`: two versions in one second share a timestamp.
    """
    if row is None or row.state not in (state.AWAITING_RELEASE, state.HELD) or not row.snapshot:
        return False
    return ShopOrder.model_validate(row.snapshot) == order
