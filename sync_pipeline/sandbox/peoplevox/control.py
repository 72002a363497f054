"""`PeoplevoxControl`: typed Python wrapper over the sandbox control API, for tests and the demo."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from sync_pipeline.lib.tls import tls_context


class OrderLineState(BaseModel):
    line: str
    item_code: str
    quantity_ordered: int
    allocated: int
    despatched: int


class OrderState(BaseModel):
    number: str
    status: str  # the simulator's own status
    reported_status: str  # what Peoplevox shows (differs under `reported_statuses`)
    site: str
    channel: str
    service_type: str
    on_hold: bool
    allocation_blocked: bool
    partially_despatched: bool
    fields: dict[str, str]
    lines: list[OrderLineState]


class PackageState(BaseModel):
    number: str
    carrier: str
    service: str
    tracking_number: str
    items: dict[str, int]


class DespatchState(BaseModel):
    number: str
    sales_order_number: str
    site: str
    despatched_at: str
    service_type: str
    packages: list[PackageState]


class StockState(BaseModel):
    item_code: str
    site: str
    on_hand: int
    allocated: int
    available: int
    seeded: int
    goods_in: int
    returns: int
    despatched: int
    adjusted: int = 0
    quarantined: int = 0


class SubscriptionState(BaseModel):
    subscription_id: int
    event_type: str
    filter: str
    url: str
    post_params: str | None


class DeliveryState(BaseModel):
    subscription_id: int
    event_type: str
    method: str
    url: str
    body: str | None
    outcome: str
    status_code: int | None
    values: dict[str, str]
    waited: float | None = None  # seconds in the sandbox's own queue before it was sent


class Counters(BaseModel):
    requests: dict[str, int]
    requests_by_name: dict[str, int]
    save_calls: dict[str, int]
    save_rows: dict[str, int]
    save_rows_failed: dict[str, int]
    save_calls_total: int
    save_rows_total: int
    limiter_refused: int
    faults_injected: dict[str, int]


class SandboxSnapshot(BaseModel):
    clock: str
    sites: list[str]
    items: list[dict[str, str]]
    stock: list[StockState]
    orders: list[OrderState]
    despatches: list[DespatchState]
    returns: list[dict[str, Any]]
    goods_in: list[dict[str, Any]]
    subscriptions: list[SubscriptionState]
    deliveries: list[DeliveryState]
    emitted: dict[str, int]
    counters: Counters
    faults: dict[str, Any]
    settings: dict[str, Any]

    def order(self, number: str) -> OrderState:
        return next(o for o in self.orders if o.number == number)

    def stock_of(self, item_code: str, site: str) -> StockState | None:
        return next((s for s in self.stock if s.item_code == item_code and s.site == site), None)


class ControlError(RuntimeError):
    pass


class PeoplevoxControl:
    """`base_url` is the sandbox root (the same one `PeoplevoxClient` takes)."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/_sandbox", timeout=timeout, verify=tls_context()
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PeoplevoxControl:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _post(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._http.post(path, json=payload or {})
        if response.status_code != 200:
            raise ControlError(f"{path}: {response.text}")
        return dict(response.json())

    def state(self) -> SandboxSnapshot:
        response = self._http.get("/state")
        response.raise_for_status()
        return SandboxSnapshot.model_validate(response.json())

    def seed_items(self, items: list[tuple[str, str, str]] | list[dict[str, str]]) -> None:
        """Items as (item_code, barcode, name) tuples or dicts with those keys."""
        payload = [
            i if isinstance(i, dict) else {"item_code": i[0], "barcode": i[1], "name": i[2]} for i in items
        ]
        self._post("/items", {"items": payload})

    def set_stock(self, levels: list[tuple[str, str, int]] | dict[tuple[str, str], int]) -> None:
        """On-hand per (item_code, site): seeds the balance's starting point."""
        pairs = levels.items() if isinstance(levels, dict) else [((c, s), q) for c, s, q in levels]
        self._post("/stock", {"stock": [{"item_code": c, "site": s, "quantity": q} for (c, s), q in pairs]})

    def configure(
        self,
        requests_per_window: int | None = None,
        window_seconds: float | None = None,
        session_idle_timeout: float | None = None,
        short_pick_rate: float | None = None,
        units_per_package: int | None = None,
        cancel_by_import: bool | None = None,
        reported_statuses: dict[str, str] | None = None,
        limit_shape: str | None = None,
        save_result_shape: str | None = None,
        late_tracking_rate: float | None = None,
        tracking_delay: float | None = None,
    ) -> None:
        """`cancel_by_import=False`: SaveData may not cancel (only people can, via `force_status`).
        `reported_statuses`: internal status → name Peoplevox reports, e.g. {"Allocated": "Awaiting stock"};
        `{}` restores the real names. `limit_shape`: how the limiter refuses (detail, http_429,
        http_429_no_retry_after, http_503, soap_fault; see sandbox/peoplevox/limiter.py).
        `save_result_shape`: how SaveData reports rows (positional, no_statuses, no_references,
        errors_only, other_detail; see sandbox/peoplevox/config.py)."""
        settings = {
            "late_tracking_rate": late_tracking_rate,
            "tracking_delay": tracking_delay,
            "requests_per_window": requests_per_window,
            "window_seconds": window_seconds,
            "session_idle_timeout": session_idle_timeout,
            "short_pick_rate": short_pick_rate,
            "units_per_package": units_per_package,
            "cancel_by_import": cancel_by_import,
            "reported_statuses": reported_statuses,
            "limit_shape": limit_shape,
            "save_result_shape": save_result_shape,
        }
        self._post("/settings", {k: v for k, v in settings.items() if v is not None})

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Any `FaultSettings` field: latency_seconds, error_next, error_rate, error_status,
        server_fault_next, server_fault_after_save_next, drop_after_save_next, slow_save_next, slow_save_seconds, session_max_calls,
        callback_drop_rate, callback_duplicate_rate, callback_delay_seconds, inventory_feed
        (normal | zero | empty: the bad feed of a maintenance window)."""
        return self._post("/faults", faults)

    def clear_faults(self) -> None:
        self._post(
            "/faults",
            {
                "latency_seconds": 0,
                "error_next": 0,
                "error_rate": 0,
                "server_fault_next": 0,
                "server_fault_after_save_next": 0,
                "drop_after_save_next": 0,
                "slow_save_next": 0,
                "session_max_calls": None,
                "callback_drop_rate": 0,
                "callback_duplicate_rate": 0,
                "callback_delay_seconds": 0,
                "inventory_feed": "normal",
            },
        )

    def advance(self, seconds: float) -> int:
        """Advance the warehouse clock; returns the number of order transitions applied."""
        return int(self._post("/clock/advance", {"seconds": seconds})["transitions"])

    def run_ticker(self, running: bool = True, time_scale: float | None = None) -> None:
        payload: dict[str, Any] = {"running": running}
        if time_scale is not None:
            payload["time_scale"] = time_scale
        self._post("/clock/ticker", payload)

    def force_status(self, sales_order_number: str, status: str) -> None:
        self._post(f"/orders/{quote(sales_order_number, safe='')}/status", {"status": status})

    def despatch(
        self, sales_order_number: str, packages: list[dict[str, int]], late_tracking: list[bool] | None = None
    ) -> dict[str, Any]:
        """Despatch exactly these packages ({item code: units}); `late_tracking[i]` ships package i
        without a tracking number. Returns the despatch number and each package's number and tracking."""
        late = late_tracking or [False] * len(packages)
        body = {"packages": [{"items": p, "tracking": not lt} for p, lt in zip(packages, late, strict=True)]}
        return self._post(f"/orders/{quote(sales_order_number, safe='')}/despatch", body)

    def assign_tracking(self, package_number: str, tracking_number: str | None = None) -> str:
        """Deliver a late tracking number (raises TrackingNumberReceived); returns the number."""
        body = {"tracking_number": tracking_number} if tracking_number else {}
        return str(
            self._post(f"/packages/{quote(package_number, safe='')}/tracking", body)["tracking_number"]
        )

    def goods_in(self, item_code: str, site: str, quantity: int, reference: str = "") -> str:
        payload = {"item_code": item_code, "site": site, "quantity": quantity, "reference": reference}
        return str(self._post("/goods-in", payload)["goods_in_id"])

    def process_return(
        self,
        sales_order_number: str,
        item_code: str,
        quantity: int,
        reason: str = "",
        reusable: bool = True,
        return_code: str | None = None,
    ) -> str:
        """A return received and graded: reusable units go back on hand (and on sale); the rest
        are quarantined. `return_code`: one more item (or grading) of a return already booked.
        Returns the return's code."""
        payload = {
            "sales_order_number": sales_order_number,
            "item_code": item_code,
            "quantity": quantity,
            "reason": reason,
            "reusable": reusable,
            "return_code": return_code,
        }
        return str(self._post("/returns", payload)["code"])

    def count_stock(self, item_code: str, site: str, counted: int) -> int:
        """A stock count found `counted` on hand; returns the adjustment."""
        return int(
            self._post("/stock/count", {"item_code": item_code, "site": site, "counted": counted})["delta"]
        )

    def write_off(self, item_code: str, site: str, quantity: int, reason: str = "Damaged") -> int:
        payload = {"item_code": item_code, "site": site, "quantity": quantity, "reason": reason}
        return int(self._post("/stock/write-off", payload)["delta"])

    def expire_sessions(self) -> int:
        return int(self._post("/sessions/expire")["expired"])

    def flush_events(self, timeout: float = 10.0) -> bool:
        """Wait until every queued callback has been attempted."""
        return bool(self._post("/events/flush", {"timeout": timeout})["idle"])
