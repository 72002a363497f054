"""Between the domain models (aware datetimes, pydantic) and the ledger rows (naive UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.sales_order_number import sales_order_number, shopify_numeric_id
from sync_pipeline.lib.flows.orders.state import Observation, Previous
from sync_pipeline.lib.ledger.orders import LineRow, OrderRow
from sync_pipeline.lib.ledger.records import to_naive_utc

# The ledger's own conversion: one definition of "naive UTC" for every TIMESTAMP column.
naive = to_naive_utc


def aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def previous_from_row(row: OrderRow) -> Previous:
    snapshot = ShopOrder.model_validate(row.snapshot) if row.snapshot else None
    return Previous(
        state=row.state,
        order=snapshot,
        paid_at=aware(row.paid_seen_at),
        release_due_at=aware(row.release_due_at),
        change_pending=row.change_pending,
    )


def order_row(
    order: ShopOrder,
    observation: Observation,
    prefix: str,
    before: OrderRow | None,
    read_at: datetime,
    from_body: bool = False,
) -> OrderRow:
    created = naive(order.created_at)
    return OrderRow(
        shopify_order_id=order.id,
        legacy_id=shopify_numeric_id(order.id),
        order_name=order.name,
        order_date=created.date() if created else None,
        state=observation.state,
        financial_status=order.financial_status,
        fulfillment_status=before.fulfillment_status if before else None,
        cancelled_at=naive(order.cancelled_at),
        shopify_created_at=created,
        shopify_updated_at=naive(order.updated_at),
        paid_seen_at=naive(observation.paid_at),
        release_due_at=naive(observation.release_due_at),
        sales_order_number=before.sales_order_number
        if before and before.sales_order_number
        else sales_order_number(order.id, prefix),
        site=before.site if before else None,
        channel=before.channel if before else None,
        total_price=order.total,
        currency=order.currency,
        pvx_status=before.pvx_status if before else None,
        pvx_status_at=before.pvx_status_at if before else None,
        change_pending=observation.change_pending,
        snapshot=order.model_dump(mode="json"),
        snapshot_read_at=naive(read_at),
        snapshot_from_body=from_body,
    )


def line_rows(order: ShopOrder) -> list[LineRow]:
    return [
        LineRow(
            shopify_order_id=order.id,
            line_id=line.id,
            sku=line.sku,
            quantity=line.quantity,
            requires_shipping=line.requires_shipping,
            is_gift_card=line.is_gift_card,
            unit_price=line.unit_price,
            bundle_group=line.bundle_group.id if line.bundle_group else None,
        )
        for line in order.lines
    ]
