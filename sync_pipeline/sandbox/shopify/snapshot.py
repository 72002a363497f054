"""The whole sandbox state as JSON, for assertions in tests and for the demo."""

from __future__ import annotations

from typing import Any

from .ids import gid
from .model import Order, iso
from .money import totals
from .state import SandboxState


def snapshot(state: SandboxState) -> dict[str, Any]:
    store = state.store
    with store.lock:
        return {
            "locations": [{"id": gid("Location", x.id), "name": x.name} for x in store.locations.values()],
            "variants": [
                {
                    "id": gid("ProductVariant", v.id),
                    "sku": v.sku,
                    "barcode": v.barcode,
                    "price": str(v.price),
                    "inventory_item_id": gid("InventoryItem", v.inventory_item_id),
                    "requires_components": v.requires_components,
                    "requires_shipping": v.requires_shipping,
                    "is_gift_card": v.is_gift_card,
                }
                for v in store.variants.values()
            ],
            "stock": stock(state),
            "orders": [_order(state, o.id) for o in store.orders.values()],
            "webhook_subscriptions": [
                {"id": gid("WebhookSubscription", s.id), "topic": s.topic, "uri": s.uri}
                for s in store.subscriptions.values()
            ],
            "webhook_deliveries": [dict(r) for r in state.dispatcher.log],
            "bucket": state.bucket.throttle_status(),
            "stats": dict(state.stats),
        }


def stock(state: SandboxState) -> list[dict[str, Any]]:
    """Every inventory level: what the stock flow sets and what orders move (`updated_at` moves
    on every change, our own writes included, so a test can prove a level was not touched)."""
    store = state.store
    with store.lock:
        return [
            {
                "sku": store.variants[store.items[lv.item_id].variant_id].sku,
                "inventory_item_id": gid("InventoryItem", lv.item_id),
                "location_id": gid("Location", lv.location_id),
                "location": store.locations[lv.location_id].name,
                "available": lv.get("available"),
                "committed": lv.get("committed"),
                "on_hand": lv.get("on_hand"),
                "updated_at": lv.updated_at.isoformat(),
            }
            for lv in store.levels.values()
        ]


def _order(state: SandboxState, order_id: int) -> dict[str, Any]:
    store = state.store
    o = store.orders[order_id]
    return {
        "id": gid("Order", o.id),
        "legacy_id": o.id,
        "name": o.name,
        "financial_status": o.financial_status,
        "fulfillment_status": o.fulfillment_status(),
        "created_at": iso(o.created_at),
        "updated_at": iso(o.updated_at),
        "cancelled_at": iso(o.cancelled_at),
        "tags": o.tags,
        "customer_tags": o.customer.tags if o.customer else [],
        "company": (
            {"name": o.purchasing_company.company_name, "location": o.purchasing_company.location_name}
            if o.purchasing_company
            else None
        ),
        "shipping_address": o.shipping_address,
        "shipping_line": (
            {
                "title": o.shipping_line.title,
                "code": o.shipping_line.code,
                "price": str(o.shipping_line.price),
            }
            if o.shipping_line
            else None
        ),
        "line_items": [
            {
                "id": gid("LineItem", li.id),
                "sku": li.sku,
                "quantity": li.quantity,
                "current_quantity": li.current_quantity,
                "fulfilled_quantity": li.fulfilled_quantity,
                "requires_shipping": li.requires_shipping,
                "price": str(li.unit_price),
                "group": li.group.variant_sku if li.group else None,
            }
            for li in o.line_items
        ],
        "fulfillment_orders": [
            {
                "id": gid("FulfillmentOrder", fo.id),
                "status": fo.status,
                "location": store.locations[fo.location_id].name,
                "lines": [
                    {
                        "id": gid("FulfillmentOrderLineItem", x.id),
                        "line_item_id": gid("LineItem", x.line_item_id),
                        "total": x.total_quantity,
                        "remaining": x.remaining_quantity,
                    }
                    for x in fo.lines
                ],
            }
            for fo in (store.fulfillment_orders[i] for i in o.fulfillment_order_ids)
        ],
        "fulfillments": [
            {
                "id": gid("Fulfillment", f.id),
                "name": f.name,
                "status": f.status,
                "tracking": f.tracking,
                "notify_customer": f.notify_customer,
                "lines": [{"line_item_id": gid("LineItem", li), "quantity": q} for _, li, q in f.lines],
            }
            for f in (store.fulfillments[i] for i in o.fulfillment_ids)
        ],
        "money": _money(o, "shop"),
        "money_presentment": _money(o, "presentment"),
        "currency": o.currency,
        "presentment_currency": o.presentment_currency or o.currency,
        "transactions": [
            {"id": gid("OrderTransaction", t.id), "kind": t.kind, "status": t.status, "amount": str(t.amount.shop),
             "processed_at": iso(t.processed_at), "parent_id": gid("OrderTransaction", t.parent_id) if t.parent_id else None}
            for t in o.transactions
        ],
        "refunds": [
            {"id": gid("Refund", r.id), "return_id": gid("Return", r.return_id) if r.return_id else None,
             "lines": [{"line_item_id": gid("LineItem", rl.line_item_id), "quantity": rl.quantity,
                        "restock_type": rl.restock_type} for rl in r.lines],
             "transactions": [gid("OrderTransaction", t) for t in r.transaction_ids]}
            for r in o.refunds
        ],
        "returns": [
            {"id": gid("Return", r.id), "status": r.status,
             "lines": [{"line_item_id": gid("LineItem", rl.line_item_id), "quantity": rl.quantity,
                        "processed": rl.processed_quantity} for rl in r.lines]}
            for r in (store.returns[i] for i in o.return_ids)
        ],
        "events": list(o.events),
    }  # fmt: skip


def _money(o: Order, currency: str) -> dict[str, str]:
    """The order's money figures in the shop's (`shop`) or the customer's (`presentment`) currency,
    as `totals` states them."""
    t = totals(o)
    return {name: str(getattr(getattr(t, name), currency)) for name in ("subtotal", "total", "current_total",
            "tax", "discounts", "shipping", "received", "refunded", "net_payment", "refund_discrepancy", "outstanding", "capturable")}  # fmt: skip


def order_snapshot(state: SandboxState, order_id: int) -> dict[str, Any]:
    with state.store.lock:
        return _order(state, order_id)
