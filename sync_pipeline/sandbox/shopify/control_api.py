"""The control API under `/_sandbox/…`: seed, place and change orders, inject faults, read state.

It is deliberately not Shopify-shaped: JSON in, JSON out, no auth, 400 with `{"error": …}` for
a request that cannot be applied. Tests and the demo drive it through `control.SandboxControl`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .config import FaultSettings
from .control_models import (
    CancelSpec,
    EditSpec,
    FulfillmentOrderAction,
    OrderSpec,
    ProductSpec,
    StockSpec,
    WebhookSpec,
)
from .ids import gid
from .snapshot import order_snapshot, snapshot, stock
from .state import SandboxState
from .store import StoreError
from .webhooks import subscribe

Handler = Callable[[SandboxState, Request, Any], Any]


def _route(path: str, method: str, model: type[BaseModel] | None, handler: Handler) -> Route:
    async def endpoint(request: Request) -> JSONResponse:
        state: SandboxState = request.app.state.sandbox
        try:
            body = await request.json() if model is not None else None
            spec = model.model_validate(body) if model is not None else None
            result = await run_in_threadpool(handler, state, request, spec)
        except (ValidationError, StoreError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(result)

    endpoint_fn: Callable[[Request], Awaitable[JSONResponse]] = endpoint
    return Route(path, endpoint_fn, methods=[method])


class StockBody(BaseModel):
    levels: list[StockSpec]


class LocationBody(BaseModel):
    name: str


def _add_product(state: SandboxState, _: Request, spec: ProductSpec) -> dict[str, Any]:
    product = state.store.add_product(spec)
    variants = [state.store.variants[v] for v in product.variant_ids]
    return {
        "id": gid("Product", product.id),
        "variants": [
            {
                "sku": v.sku,
                "id": gid("ProductVariant", v.id),
                "inventory_item_id": gid("InventoryItem", v.inventory_item_id),
            }
            for v in variants
        ],
    }


def _set_stock(state: SandboxState, _: Request, body: StockBody) -> dict[str, Any]:
    with state.store.lock:
        for level in body.levels:
            state.store.set_stock(level.sku, level.available, level.location)
    return {"updated": len(body.levels)}


def _add_location(state: SandboxState, _: Request, body: LocationBody) -> dict[str, Any]:
    return {"id": gid("Location", state.store.add_location(body.name).id)}


def _place(state: SandboxState, _: Request, spec: OrderSpec) -> dict[str, Any]:
    return order_snapshot(state, state.store.place_order(spec).id)


def _order_action(action: str) -> Handler:
    def run(state: SandboxState, request: Request, spec: Any) -> dict[str, Any]:
        ref = request.path_params["order_id"]
        store = state.store
        if action == "paid":
            order = store.mark_paid(ref)
        elif action == "edit":
            order = store.edit_order(ref, spec)
        elif action == "cancel":
            order = store.cancel_order(ref, spec.reason, spec.restock)
        elif action == "fulfillment_orders":
            order = store.fulfillment_order_action(ref, spec.action, spec.location)
        else:
            with store.lock:
                order = store.order(ref)
        return order_snapshot(state, order.id)

    return run


def _faults(state: SandboxState, _: Request, spec: FaultSettings) -> dict[str, Any]:
    state.config.faults = spec
    state.dispatcher.config.faults = spec
    state.store.same_second_updates = spec.same_second_updates
    return spec.model_dump()


def _webhook(state: SandboxState, _: Request, spec: WebhookSpec) -> dict[str, Any]:
    sub = subscribe(state.store, spec.topic, spec.uri, {})
    return {"id": gid("WebhookSubscription", sub.id), "topic": sub.topic, "uri": sub.uri}


def _emails(state: SandboxState) -> list[dict[str, Any]]:
    with state.store.lock:
        return [dict(e) for e in state.store.emails]


def _bucket_reset(state: SandboxState, _: Request, __: Any) -> dict[str, Any]:
    state.bucket.reset()
    return state.bucket.throttle_status()


def _bucket_drain(state: SandboxState, _: Request, __: Any) -> dict[str, Any]:
    state.bucket.drain()
    return state.bucket.throttle_status()


def _inventory_writes(state: SandboxState) -> list[dict[str, Any]]:
    with state.store.lock:
        return [dict(w) for w in state.store.inventory_writes]


def _stats(state: SandboxState) -> dict[str, float]:
    """The counters alone (`/state` carries them too, with every order): cheap to read at a peak."""
    return {**state.stats, **state.dispatcher.faulted}


def routes() -> list[Route]:
    return [
        Route("/_sandbox/state", lambda r: JSONResponse(snapshot(r.app.state.sandbox)), methods=["GET"]),
        Route("/_sandbox/stock", lambda r: JSONResponse(stock(r.app.state.sandbox)), methods=["GET"]),
        Route("/_sandbox/stats", lambda r: JSONResponse(_stats(r.app.state.sandbox)), methods=["GET"]),
        _route("/_sandbox/products", "POST", ProductSpec, _add_product),
        _route("/_sandbox/locations", "POST", LocationBody, _add_location),
        _route("/_sandbox/stock", "POST", StockBody, _set_stock),
        _route("/_sandbox/orders", "POST", OrderSpec, _place),
        _route("/_sandbox/orders/{order_id}", "GET", None, _order_action("get")),
        _route("/_sandbox/orders/{order_id}/paid", "POST", None, _order_action("paid")),
        _route("/_sandbox/orders/{order_id}/edit", "POST", EditSpec, _order_action("edit")),
        _route("/_sandbox/orders/{order_id}/cancel", "POST", CancelSpec, _order_action("cancel")),
        _route(
            "/_sandbox/orders/{order_id}/fulfillment-orders",
            "POST",
            FulfillmentOrderAction,
            _order_action("fulfillment_orders"),
        ),
        Route("/_sandbox/emails", lambda r: JSONResponse(_emails(r.app.state.sandbox)), methods=["GET"]),
        _route("/_sandbox/faults", "PUT", FaultSettings, _faults),
        _route("/_sandbox/webhooks", "POST", WebhookSpec, _webhook),
        _route("/_sandbox/bucket/reset", "POST", None, _bucket_reset),
        _route("/_sandbox/bucket/drain", "POST", None, _bucket_drain),
        Route(
            "/_sandbox/inventory-writes",
            lambda r: JSONResponse(_inventory_writes(r.app.state.sandbox)),
            methods=["GET"],
        ),
    ]
