"""Webhook bodies in Shopify's REST shape (snake_case, numeric ids, `admin_graphql_api_id`).

An order body is the REST Order at the version its `updated_at` names, as of API 2025-01 on:
- the nested `customer` has no `tags` (removed from every webhook's customer in 2025-01, in favour
  of the `customers/tags_*` topics), only its ids and contact;
- each line item has `sales_line_item_group_id` (2025-01), the bundle it is a component of, and
  the order lists its `line_item_groups`; the fields of a group beyond its id are our assumption;
- money comes as a string amount and a `*_set` (`shop_money`, `presentment_money`).
`orders/edited` carries an `order_edit` (the order's id and what the edit added and removed),
not the order. Fields the product does not read are mostly left out (stricter: a consumer that
relies on one finds it missing here first).
"""

from __future__ import annotations

from typing import Any

from .finance_views import bag
from .ids import gid
from .model import Order, iso
from .money import shipping_price, totals, unit_price
from .store import Store

FULFILLMENT_REST = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial", "UNFULFILLED": None}


def order_payload(store: Store, order_id: int) -> dict[str, Any]:
    o = store.orders[order_id]
    address = o.shipping_address
    return {
        "id": o.id,
        "admin_graphql_api_id": gid("Order", o.id),
        "name": o.name,
        "order_number": o.number,
        "email": o.email,
        "phone": o.phone,
        "note": o.note,
        "created_at": iso(o.created_at),
        "updated_at": iso(o.updated_at),
        "processed_at": iso(o.processed_at),
        "cancelled_at": iso(o.cancelled_at),
        "cancel_reason": o.cancel_reason.lower() if o.cancel_reason else None,
        "closed_at": iso(o.closed_at),
        "financial_status": o.financial_status.lower(),
        "fulfillment_status": FULFILLMENT_REST.get(o.fulfillment_status()),
        "currency": o.currency,
        "presentment_currency": o.presentment_currency or o.currency,
        "total_price": str(o.total_price()),
        "total_price_set": _rest_bag(bag(o, totals(o).total)),
        "tags": ", ".join(sorted(o.tags)),
        "source_name": o.source_name,
        "po_number": o.po_number,
        "note_attributes": [{"name": k, "value": v} for k, v in o.custom_attributes],
        # No `tags` since API 2025-01 (see the module docstring).
        "customer": (
            {
                "id": o.customer.id,
                "admin_graphql_api_id": gid("Customer", o.customer.id),
                "email": o.customer.email,
            }
            if o.customer
            else None
        ),
        # REST's B2B field: the company and company location ids (null for a DTC order).
        "company": (
            {"id": o.purchasing_company.company_id, "location_id": o.purchasing_company.location_id}
            if o.purchasing_company
            else None
        ),
        "shipping_address": dict(address) if address else None,
        "shipping_lines": _shipping_lines(o),
        "line_items": [
            {
                "id": li.id,
                "admin_graphql_api_id": gid("LineItem", li.id),
                "variant_id": li.variant_id,
                "sku": li.sku,
                "name": li.name,
                "quantity": li.quantity,
                "current_quantity": li.current_quantity,
                "fulfillable_quantity": max(0, li.current_quantity - li.fulfilled_quantity),
                "requires_shipping": li.requires_shipping,
                "gift_card": li.is_gift_card,
                "price": str(li.unit_price),
                "price_set": _rest_bag(bag(o, unit_price(o, li))),
                "sales_line_item_group_id": li.group.id if li.group else None,
            }
            for li in o.line_items
        ],
        "line_item_groups": [
            {
                "id": g.id,
                "title": g.title,
                "quantity": g.quantity,
                "product_id": g.product_id,
                "variant_id": g.variant_id,
                "variant_sku": g.variant_sku,
            }
            for g in {li.group.id: li.group for li in o.line_items if li.group}.values()
        ],
    }


def order_edit_payload(store: Store, order_id: int) -> dict[str, Any]:
    """`orders/edited`: the edit, not the order. The sandbox keeps no record of what an edit
    added or removed, so both lists are empty (a consumer reading them would be misled: ours
    reads the order's own `orders/updated` body instead)."""
    o = store.orders[order_id]
    return {
        "order_edit": {
            "id": store.ids.next(),
            "app_id": None,
            "created_at": iso(o.updated_at),
            "notify_customer": False,
            "order_id": o.id,
            "staff_note": "",
            "user_id": None,
            "line_items": {"additions": [], "removals": []},
        }
    }


def _rest_bag(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "shop_money": _rest_money(value["shopMoney"]),
        "presentment_money": _rest_money(value["presentmentMoney"]),
    }


def _shipping_lines(o: Order) -> list[dict[str, Any]]:
    s = o.shipping_line
    if s is None:
        return []
    price = bag(o, shipping_price(o))
    return [
        {
            "id": s.id,
            "title": s.title,
            "code": s.code,
            "source": s.source,
            "carrier_identifier": s.carrier_identifier,
            "price": price["shopMoney"]["amount"],
            "price_set": {"shop_money": _rest_money(price["shopMoney"]),
                          "presentment_money": _rest_money(price["presentmentMoney"])},
            "discounted_price": price["shopMoney"]["amount"],
            "is_removed": False,
            "phone": None,
            "requested_fulfillment_service_id": None,
            "tax_lines": [],
            "discount_allocations": [],
        }
    ]  # fmt: skip


def _rest_money(value: dict[str, Any]) -> dict[str, Any]:
    return {"amount": value["amount"], "currency_code": value["currencyCode"]}


def fulfillment_payload(store: Store, fulfillment_id: int) -> dict[str, Any]:
    f = store.fulfillments[fulfillment_id]
    return {
        "id": f.id,
        "admin_graphql_api_id": gid("Fulfillment", f.id),
        "order_id": f.order_id,
        "name": f.name,
        "status": f.status.lower(),
        "created_at": iso(f.created_at),
        "tracking_company": f.tracking[0]["company"] if f.tracking else None,
        "tracking_numbers": [t["number"] for t in f.tracking if t["number"]],
        "line_items": [{"id": line_id, "quantity": qty} for _, line_id, qty in f.lines],
    }


def level_payload(store: Store, key: tuple[int, int]) -> dict[str, Any]:
    level = store.levels[key]
    return {
        "inventory_item_id": level.item_id,
        "location_id": level.location_id,
        "available": level.get("available"),
        "updated_at": iso(level.updated_at),
        "admin_graphql_api_id": gid("InventoryLevel", level.location_id)
        + f"?inventory_item_id={level.item_id}",
    }


def refund_payload(store: Store, order_id: int, refund_id: int) -> dict[str, Any]:
    o = store.orders[order_id]
    r = next(x for x in o.refunds if x.id == refund_id)
    return {
        "id": r.id,
        "admin_graphql_api_id": gid("Refund", r.id),
        "order_id": o.id,
        "created_at": iso(r.created_at),
        "note": r.note,
        "restock": any(rl.restocked for rl in r.lines),
        "refund_line_items": [
            {"id": rl.id, "line_item_id": rl.line_item_id, "quantity": rl.quantity,
             "restock_type": rl.restock_type.lower(), "subtotal": str(rl.subtotal.shop),
             "total_tax": str(rl.tax.shop)}
            for rl in r.lines
        ],
        "transactions": [
            {"id": t.id, "kind": t.kind.lower(), "status": t.status.lower(), "amount": str(t.amount.shop),
             "parent_id": t.parent_id, "gateway": t.gateway}
            for t in o.transactions if t.id in r.transaction_ids
        ],
    }  # fmt: skip


def build(store: Store, topic: str, ref: dict[str, Any]) -> dict[str, Any]:
    if topic == "BULK_OPERATIONS_FINISH":
        return dict(ref["payload"])  # rendered by bulk.py when the operation ended
    if topic == "REFUNDS_CREATE":
        return refund_payload(store, ref["order"], ref["refund"])
    if topic in ("FULFILLMENTS_CREATE", "FULFILLMENTS_UPDATE"):
        return fulfillment_payload(store, ref["fulfillment"])
    if topic == "INVENTORY_LEVELS_UPDATE":
        return level_payload(store, ref["level"])
    if topic == "ORDERS_EDITED":
        return order_edit_payload(store, ref["order"])
    return order_payload(store, ref["order"])
