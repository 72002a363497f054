"""`SandboxControl`: a typed Python wrapper over the sandbox's `/_sandbox/…` control API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from sync_pipeline.lib.tls import tls_context

from .config import FaultSettings
from .control_models import (
    AddressSpec,
    CancelSpec,
    CompanySpec,
    ComponentSpec,
    EditSpec,
    FulfillmentOrderAction,
    LineSpec,
    OrderSpec,
    ProductSpec,
    QuantityChange,
    ShippingLineSpec,
    StockSpec,
    VariantSpec,
    WebhookSpec,
)

__all__ = [
    "AddressSpec",
    "CancelSpec",
    "CompanySpec",
    "ComponentSpec",
    "EditSpec",
    "FaultSettings",
    "FulfillmentOrderAction",
    "LineSpec",
    "OrderSpec",
    "ProductSpec",
    "QuantityChange",
    "SandboxControl",
    "SandboxControlError",
    "ShippingLineSpec",
    "StockSpec",
    "VariantSpec",
    "points_by_operation",
    "points_spent_per",
]


def points_by_operation(stats: Mapping[str, Any]) -> dict[str, float]:
    """Points spent per GraphQL operation name, from the sandbox's stats (`state()["stats"]`),
    where the endpoint counts them under `points_spent:<operation>`."""
    return {k.split(":", 1)[1]: v for k, v in stats.items() if k.startswith("points_spent:")}


def points_spent_per(before: Mapping[str, float], after: Mapping[str, float], per: int) -> dict[str, float]:
    """Points per unit (`per` orders, packages, …) each operation spent between two
    `points_by_operation` readings; operations that spent nothing are left out."""
    return {k: round((v - before.get(k, 0.0)) / per, 2) for k, v in after.items() if v > before.get(k, 0.0)}


class SandboxControlError(RuntimeError):
    pass


class SandboxControl:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, verify=tls_context())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SandboxControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        if hasattr(body, "model_dump"):
            body = body.model_dump(mode="json")
        response = self._http.request(method, f"/_sandbox{path}", json=body)
        if response.status_code != 200:
            raise SandboxControlError(f"{method} {path}: HTTP {response.status_code}: {response.text}")
        return response.json()

    @staticmethod
    def _ref(order_id: str | int) -> str:
        # A gid's slashes would split the path even when escaped; its numeric tail is enough.
        return quote(str(order_id).rsplit("/", 1)[-1], safe="")

    # catalogue and stock
    def add_product(self, product: ProductSpec) -> dict[str, Any]:
        """Returns {"id", "variants": [{"sku", "id", "inventory_item_id"}]}."""
        return dict(self._call("POST", "/products", product))

    def add_location(self, name: str) -> str:
        return str(self._call("POST", "/locations", {"name": name})["id"])

    def set_stock(self, levels: list[StockSpec]) -> None:
        self._call("POST", "/stock", {"levels": [lv.model_dump(mode="json") for lv in levels]})

    # orders (each returns the order's snapshot: id, name, line_items, fulfillment_orders, events…)
    def place_order(self, order: OrderSpec) -> dict[str, Any]:
        return dict(self._call("POST", "/orders", order))

    def get_order(self, order_id: str | int) -> dict[str, Any]:
        return dict(self._call("GET", f"/orders/{self._ref(order_id)}"))

    def mark_paid(self, order_id: str | int) -> dict[str, Any]:
        return dict(self._call("POST", f"/orders/{self._ref(order_id)}/paid"))

    def edit_order(self, order_id: str | int, edit: EditSpec) -> dict[str, Any]:
        return dict(self._call("POST", f"/orders/{self._ref(order_id)}/edit", edit))

    def cancel_order(self, order_id: str | int, cancel: CancelSpec | None = None) -> dict[str, Any]:
        return dict(self._call("POST", f"/orders/{self._ref(order_id)}/cancel", cancel or CancelSpec()))

    def fulfillment_orders(
        self, order_id: str | int, action: str, location: str | None = None
    ) -> dict[str, Any]:
        """A merchant's `hold`, `release`, `close`, `incomplete`, `report_progress` or `open` (mark as
        open again) on the order's fulfilment orders
        (only the one assigned to `location`, by name, when given)."""
        path = f"/orders/{self._ref(order_id)}/fulfillment-orders"
        spec = FulfillmentOrderAction(action=action, location=location)  # type: ignore[arg-type]
        return dict(self._call("POST", path, spec))

    def emails(self) -> list[dict[str, Any]]:
        """Customer emails Shopify would have sent: shipping confirmations and shipping updates."""
        return list(self._call("GET", "/emails"))

    # faults, webhooks, state
    def set_faults(self, faults: FaultSettings) -> dict[str, Any]:
        return dict(self._call("PUT", "/faults", faults))

    def register_webhook(self, topic: str, uri: str) -> dict[str, Any]:
        return dict(self._call("POST", "/webhooks", WebhookSpec(topic=topic, uri=uri)))

    def reset_bucket(self) -> dict[str, Any]:
        return dict(self._call("POST", "/bucket/reset"))

    def drain_bucket(self) -> dict[str, Any]:
        """Empty the cost bucket: the Admin API answers THROTTLED until it refills."""
        return dict(self._call("POST", "/bucket/drain"))

    def inventory_writes(self) -> list[dict[str, Any]]:
        """Inventory mutations that moved a quantity: idempotency key, reference, quantity name, rows moved, at."""
        return list(self._call("GET", "/inventory-writes"))

    def stock(self) -> list[dict[str, Any]]:
        """Every inventory level (sku, location, available, committed, on_hand, updated_at)."""
        return list(self._call("GET", "/stock"))

    def stats(self) -> dict[str, float]:
        """The counters: requests, points, THROTTLED and 429 answers, faults injected (503s,
        timeouts, webhooks dropped or doubled)."""
        return dict(self._call("GET", "/stats"))

    def state(self) -> dict[str, Any]:
        """Whole state: locations, variants, stock, orders, webhook subscriptions and deliveries, bucket."""
        return dict(self._call("GET", "/state"))
