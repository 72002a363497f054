"""A `ShopOrder` as Shopify's REST webhook body renders it (the inverse of `webhook_order.py`),
for tests that drive the orders flow from the inbox without a sandbox. The sandbox renders its
own bodies (`sandbox/shopify/payloads.py`); `test_webhook_bodies.py` checks those against reads."""

from __future__ import annotations

from typing import Any

from sync_pipeline.lib.domain.models import ShopOrder


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def rest_body(order: ShopOrder, customer: bool = True, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": int(order.id.rsplit("/", 1)[1]),
        "admin_graphql_api_id": order.id,
        "name": order.name,
        "created_at": _iso(order.created_at),
        "updated_at": _iso(order.updated_at),
        "processed_at": _iso(order.processed_at),
        "cancelled_at": _iso(order.cancelled_at),
        "financial_status": order.financial_status.lower(),
        "currency": order.currency,
        "total_price": str(order.total),
        "tags": ", ".join(order.tags),
        "note_attributes": [{"name": a.key, "value": a.value} for a in order.custom_attributes],
        "source_name": order.source_name,
        "email": order.email,
        "phone": order.phone,
        "company": None,
        "customer": {"id": 1, "admin_graphql_api_id": "gid://shopify/Customer/1"} if customer else None,
        "shipping_address": order.shipping_address.model_dump() if order.shipping_address else None,
        "shipping_lines": (
            [{"code": order.shipping_line_code, "title": order.shipping_line_title}]
            if order.shipping_line_code or order.shipping_line_title
            else []
        ),
        "line_items": [
            {
                "id": int(line.id.rsplit("/", 1)[1]),
                "admin_graphql_api_id": line.id,
                "sku": line.sku,
                "name": line.name,
                "current_quantity": line.quantity,
                **({"quantity": line.ordered_quantity} if line.ordered_quantity is not None else {}),
                "requires_shipping": line.requires_shipping,
                "gift_card": line.is_gift_card,
                "price": str(line.unit_price),
                "sales_line_item_group_id": None,
            }
            for line in order.lines
        ],
    }
    body.update(overrides)
    return body
