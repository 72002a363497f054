"""Helpers every release step shares: stored translations, snapshots, batches, compare-and-set."""

from collections.abc import Sequence
from typing import TypeVar

from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.sales_order import (
    SalesOrderHeader,
    SalesOrderItem,
    TranslatedOrder,
)
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.records import aware, naive
from sync_pipeline.lib.ledger import orders as ledger_orders

R = TypeVar("R", SalesOrderHeader, SalesOrderItem)
HELD_KINDS = ("unmapped_sku", "bad_address")


def stored_translation(header: dict | None, items: list | None) -> TranslatedOrder | None:
    if not header:
        return None
    return TranslatedOrder.model_validate({**header, "items": items or []})


def translation_record(translated: TranslatedOrder) -> tuple[dict, list]:
    header = translated.model_dump(mode="json", exclude={"items"})
    return header, [item.model_dump(mode="json") for item in translated.items]


def batches(rows: Sequence, size: int) -> list[Sequence]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def still_releasable(row: ledger_orders.OrderRow | None, order: ShopOrder) -> bool:
    """Compare-and-set: the row is still one release may act on, and not newer than our read."""
    if row is None or row.state not in (state.AWAITING_RELEASE, state.HELD):
        return False
    return row.shopify_updated_at is None or row.shopify_updated_at <= naive(aware(order.updated_at))


def snapshot_fields(order: ShopOrder) -> dict[str, object]:
    """The ledger columns that describe which version of the order we hold."""
    return {"snapshot": order.model_dump(mode="json"), "shopify_updated_at": naive(aware(order.updated_at))}
