"""The sandbox control API (JSON under ``/_sandbox``): seed, advance time, force, inject, inspect.

This is not part of Peoplevox; it exists so tests, the demo and benchmarks can drive the
warehouse and read everything back. `control.py` is its typed Python wrapper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sync_pipeline.sandbox.peoplevox import despatch_control, stock_moves
from sync_pipeline.sandbox.peoplevox.config import SaveResultShape, check_reported_statuses
from sync_pipeline.sandbox.peoplevox.limiter import LimitShape
from sync_pipeline.sandbox.peoplevox.state import SandboxState
from sync_pipeline.sandbox.peoplevox.values import format_value
from sync_pipeline.sandbox.peoplevox.warehouse import WarehouseError


class ItemIn(BaseModel):
    item_code: str = Field(min_length=1)
    barcode: str = Field(min_length=1)
    name: str = ""


class StockIn(BaseModel):
    item_code: str
    site: str
    quantity: int = Field(ge=0)


class SettingsIn(BaseModel):
    requests_per_window: int | None = Field(None, ge=1)
    window_seconds: float | None = Field(None, gt=0)
    session_idle_timeout: float | None = Field(None, gt=0)
    short_pick_rate: float | None = Field(None, ge=0, le=1)
    units_per_package: int | None = Field(None, ge=1)
    cancel_by_import: bool | None = None
    reported_statuses: dict[str, str] | None = None
    limit_shape: LimitShape | None = None
    save_result_shape: SaveResultShape | None = None

    @field_validator("reported_statuses")
    @classmethod
    def _known_statuses(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else check_reported_statuses(value)

    late_tracking_rate: float | None = Field(None, ge=0, le=1)
    tracking_delay: float | None = Field(None, ge=0)


class AdvanceIn(BaseModel):
    seconds: float = Field(ge=0)


class TickerIn(BaseModel):
    running: bool
    time_scale: float | None = Field(None, gt=0)


class StatusIn(BaseModel):
    status: str


class GoodsInIn(BaseModel):
    item_code: str
    site: str
    quantity: int = Field(gt=0)
    reference: str = ""


class ReturnIn(BaseModel):
    sales_order_number: str
    item_code: str
    quantity: int = Field(gt=0)
    reason: str = ""
    reusable: bool = True
    return_code: str | None = None  # one more item of this return


class CountIn(BaseModel):
    item_code: str
    site: str
    counted: int = Field(ge=0)


class WriteOffIn(BaseModel):
    item_code: str
    site: str
    quantity: int = Field(gt=0)
    reason: str = "Damaged"


def snapshot(state: SandboxState) -> dict[str, Any]:
    w = state.warehouse
    with w.lock:
        data: dict[str, Any] = {
            "clock": w.clock.now().isoformat(),
            "sites": list(w.settings.sites),
            "items": [
                {"item_code": i.item_code, "barcode": i.barcode, "name": i.name} for i in w.items.values()
            ],
            "stock": [
                {
                    "item_code": code,
                    "site": site,
                    "on_hand": lv.on_hand,
                    "allocated": lv.allocated,
                    "available": lv.available,
                    "seeded": lv.seeded,
                    "goods_in": lv.goods_in,
                    "returns": lv.returns,
                    "despatched": lv.despatched,
                    "adjusted": lv.adjusted,
                    "quarantined": lv.quarantined,
                }
                for (code, site), lv in w.stock.items()
            ],
            "orders": [
                {
                    "number": o.number,
                    "status": o.status,
                    "reported_status": w.reported_status(o.status),
                    "site": o.site,
                    "channel": o.channel,
                    "service_type": o.service_type,
                    "on_hold": o.on_hold,
                    "allocation_blocked": o.allocation_blocked,
                    "partially_despatched": o.partially_despatched,
                    "fields": {k: format_value(v) for k, v in o.fields.items()},
                    "lines": [
                        {
                            "line": li.line,
                            "item_code": li.item_code,
                            "quantity_ordered": li.quantity_ordered,
                            "allocated": li.allocated,
                            "despatched": li.despatched,
                        }
                        for li in o.lines.values()
                    ],
                }
                for o in w.orders.values()
            ],
            "despatches": [
                {
                    "number": d.number,
                    "sales_order_number": d.sales_order_number,
                    "site": d.site,
                    "despatched_at": d.despatched_at.isoformat(),
                    "service_type": d.service_type,
                    "packages": [
                        {
                            "number": p.number,
                            "carrier": p.carrier,
                            "service": p.service,
                            "tracking_number": p.tracking_number,
                            "items": dict(p.items),
                        }
                        for p in d.packages
                    ],
                }
                for d in w.despatches.values()
            ],
            "returns": [
                {
                    "code": r.code,
                    "sales_order_number": r.sales_order_number,
                    "item_code": r.item_code,
                    "quantity": r.quantity,
                    "site": r.site,
                    "reason": r.reason,
                    "reusable": r.reusable,
                }
                for r in w.returns
            ],
            "goods_in": [
                {
                    "goods_in_id": g.goods_in_id,
                    "reference": g.reference,
                    "item_code": g.item_code,
                    "site": g.site,
                    "quantity": g.quantity,
                }
                for g in w.goods_ins
            ],
        }
    data.update(state.events.snapshot())
    data["counters"] = state.counters.snapshot()
    data["faults"] = state.faults.model_dump()
    data["settings"] = {
        "client_id": state.config.client_id,
        "requests_per_window": state.limiter.limit,
        "window_seconds": state.limiter.window,
        "limit_shape": state.limiter.shape,
        "save_result_shape": state.save_result_shape,
        "session_idle_timeout": state.sessions.idle_timeout,
        "time_scale": state.ticker.time_scale,
        "ticker_running": state.ticker.running,
        "live_sessions": state.sessions.live_count(),
        "cancel_by_import": state.warehouse.settings.cancel_by_import,
        "reported_statuses": dict(state.warehouse.settings.reported_statuses),
    }
    return data


Handler = Callable[[SandboxState, dict[str, Any]], Any]


class _AnyText(Convertor[str]):
    """A sales order number as Peoplevox keeps it: any text, line breaks too (Starlette's `path`
    stops at a line break), so tests can address orders someone keyed in with hostile numbers."""

    regex = "(?s:.+)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("any_text", _AnyText())


def _route(path: str, state: SandboxState, handler: Handler, methods: list[str]) -> Route:
    async def endpoint(request: Request) -> JSONResponse:
        body: dict[str, Any] = {}
        if request.method == "POST":
            raw = await request.body()
            if raw:
                body = await request.json()
        body.update(request.path_params)
        try:
            result = await run_in_threadpool(handler, state, body)
        except (ValidationError, WarehouseError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True} if result is None else result)

    return Route(path, endpoint, methods=methods)


def _items(state: SandboxState, body: dict[str, Any]) -> None:
    for item in (ItemIn.model_validate(i) for i in body.get("items", [])):
        state.warehouse.upsert_item(item.item_code, item.barcode, item.name)


def _stock(state: SandboxState, body: dict[str, Any]) -> None:
    for level in (StockIn.model_validate(s) for s in body.get("stock", [])):
        state.warehouse.set_stock(level.item_code, level.site, level.quantity)


def _settings(state: SandboxState, body: dict[str, Any]) -> None:
    s = SettingsIn.model_validate(body)
    limiter = state.limiter
    limiter.configure(s.requests_per_window or limiter.limit, s.window_seconds or limiter.window)
    if s.limit_shape is not None:
        limiter.shape = s.limit_shape
    if s.save_result_shape is not None:
        state.save_result_shape = s.save_result_shape
    if s.session_idle_timeout is not None:
        state.sessions.idle_timeout = s.session_idle_timeout
    if s.short_pick_rate is not None:
        state.warehouse.settings.short_pick_rate = s.short_pick_rate
    if s.units_per_package is not None:
        state.warehouse.settings.units_per_package = s.units_per_package
    with state.warehouse.lock:
        if s.cancel_by_import is not None:
            state.warehouse.settings.cancel_by_import = s.cancel_by_import
        if s.reported_statuses is not None:
            state.warehouse.settings.reported_statuses = dict(s.reported_statuses)
    if s.late_tracking_rate is not None:
        state.warehouse.settings.late_tracking_rate = s.late_tracking_rate
    if s.tracking_delay is not None:
        state.warehouse.settings.tracking_delay = s.tracking_delay


def _faults(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    merged = state.faults.model_dump() | body
    validated = type(state.faults).model_validate(merged)
    for name, value in validated.model_dump().items():
        setattr(state.faults, name, value)
    state.sessions.max_calls = state.faults.session_max_calls
    return state.faults.model_dump()


def _advance(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    applied = state.warehouse.advance(AdvanceIn.model_validate(body).seconds)
    return {"transitions": applied, "clock": state.clock.now().isoformat()}


def _ticker(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    t = TickerIn.model_validate(body)
    if t.running:
        state.ticker.start(t.time_scale)
    else:
        state.ticker.stop()
    return {"running": state.ticker.running, "time_scale": state.ticker.time_scale}


def _force(state: SandboxState, body: dict[str, Any]) -> None:
    state.warehouse.force_status(str(body["number"]), StatusIn.model_validate(body).status)


def _goods_in(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    g = GoodsInIn.model_validate(body)
    record = state.warehouse.goods_in(g.item_code, g.site, g.quantity, g.reference)
    return {"goods_in_id": record.goods_in_id}


def _return(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    r = ReturnIn.model_validate(body)
    record = state.warehouse.process_return(
        r.sales_order_number,
        r.item_code,
        r.quantity,
        r.reason,
        reusable=r.reusable,
        return_code=r.return_code,
    )
    return {"code": record.code}


def _count(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    c = CountIn.model_validate(body)
    return {"delta": stock_moves.count_stock(state.warehouse, c.item_code, c.site, c.counted).delta}


def _write_off(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    w = WriteOffIn.model_validate(body)
    made = stock_moves.write_off(state.warehouse, w.item_code, w.site, w.quantity, w.reason)
    return {"delta": made.delta}


def _expire(state: SandboxState, _body: dict[str, Any]) -> dict[str, Any]:
    return {"expired": state.sessions.expire_all()}


def _flush(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    return {"idle": state.events.wait_idle(float(body.get("timeout", 10.0)))}


def control_routes(state: SandboxState) -> list[Route]:
    post = ["POST"]
    return [
        _route("/state", state, lambda s, _b: snapshot(s), ["GET"]),
        _route("/items", state, _items, post),
        _route("/stock", state, _stock, post),
        _route("/settings", state, _settings, post),
        _route("/faults", state, _faults, post),
        _route("/clock/advance", state, _advance, post),
        _route("/clock/ticker", state, _ticker, post),
        _route("/orders/{number:any_text}/status", state, _force, post),
        _route("/orders/{number:any_text}/despatch", state, despatch_control.despatch, post),
        _route("/packages/{number:path}/tracking", state, despatch_control.tracking, post),
        _route("/goods-in", state, _goods_in, post),
        _route("/returns", state, _return, post),
        _route("/stock/count", state, _count, post),
        _route("/stock/write-off", state, _write_off, post),
        _route("/sessions/expire", state, _expire, post),
        _route("/events/flush", state, _flush, post),
    ]
