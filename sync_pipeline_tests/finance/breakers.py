"""Helpers the finance breaker files share: place an order, read its reconciled row (checked by the
oracle), find a line."""

from __future__ import annotations

from typing import Any

from sync_pipeline.sandbox.shopify.control import OrderSpec
from sync_pipeline_tests.despatches.helpers import UK
from sync_pipeline_tests.finance.world import World


def place(w: World, **spec: Any) -> int:
    w.ids.append(w.shop.place_order(OrderSpec(shipping_address=UK, **spec))["id"])
    return len(w.ids) - 1


def row_of(w: World, i: int) -> dict[str, Any]:
    today, as_of = w.run()
    w.check(today, as_of)
    return w.rows(today)[w.ids[i]]


def line_id(w: World, i: int, sku: str) -> str:
    return next(li["id"] for li in w.shop.get_order(w.ids[i])["line_items"] if li["sku"] == sku)
