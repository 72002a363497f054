"""The store a rehearsal plays: its limits, its peak and its faults (flags or a YAML profile).

Flags override the profile; the profile overrides the defaults below, which are issue 13's
settings (Shopify Plus, Peoplevox 15 requests / 15 s, a 30 s hold, 1,500 orders a minute).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sync_pipeline.sandbox.shopify.config import PLANS

FaultName = Literal[
    "shopify_5xx",  # a share of Admin API calls answered 503 for a while
    "shopify_429",  # the next calls answered HTTP 429 with Retry-After
    "shopify_timeouts",  # a share of calls hang, then 504
    "throttled",  # the cost bucket emptied: THROTTLED until it refills
    "pvx_session_expiry",  # every Peoplevox session dies at once (mid-batch when busy)
    "pvx_limiter_refusals",  # the limiter's window filled by someone else: the next calls refused
    "webhooks_dropped",  # a share of Shopify webhooks never delivered, for a while
    "webhooks_duplicated",  # a share delivered twice (same event id), for a while
    "callbacks_dropped",  # a share of Peoplevox callbacks never delivered, for a while
    "callbacks_duplicated",  # a share delivered twice, for a while
    "kill_run_worker",  # SIGKILL one Dagster run worker in flight
    "restart_daemon",  # stop the Dagster daemon and start it again
]
FAULT_NAMES: tuple[str, ...] = FaultName.__args__  # type: ignore[attr-defined]


class ScheduledFault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: float = Field(
        ge=0, description="seconds after the sale starts, or a share of it when ≤ 1 with `share`"
    )
    fault: FaultName
    seconds: float = Field(20.0, gt=0, description="how long a rate fault lasts")
    rate: float = Field(0.2, gt=0, le=1, description="share of calls or deliveries a rate fault hits")
    count: int = Field(5, ge=1, description="how many calls a counted fault hits (429s)")


class StoreProfile(BaseModel):
    """What the store and its warehouse allow, and the peak to play against them."""

    model_config = ConfigDict(extra="forbid")

    shopify_plan: str = "plus"
    pvx_requests_per_window: int = Field(15, ge=1)
    pvx_window_seconds: float = Field(15.0, gt=0)
    hold_seconds: int = Field(30, ge=0)
    cutoff_status: str = "Allocated"
    catalogue_size: int = Field(200, ge=20)
    minutes: float = Field(5.0, gt=0)
    orders_per_minute: float = Field(1500.0, gt=0)
    # Warehouse floor in real seconds after a sales order lands (allocation, picking, packing, despatch).
    floor_seconds: tuple[float, float, float, float] = (10.0, 15.0, 10.0, 15.0)
    units_per_package: int = Field(3, ge=1)
    goods_in_per_minute: float = Field(60.0, ge=0)
    returns_per_minute: float = Field(10.0, ge=0)
    edit_share: float = Field(0.03, ge=0, le=1)
    cancel_share: float = Field(0.02, ge=0, le=1)
    scarce_orders_per_minute: float = Field(30.0, ge=0, description="orders on the few low-stock SKUs")
    drain_timeout: float = Field(900.0, gt=0, description="seconds after the sale for the flows to catch up")
    faults: list[ScheduledFault] | None = None  # None: the default schedule (default_faults)

    def model_post_init(self, _context: object) -> None:
        if self.shopify_plan not in PLANS:
            raise ValueError(f"shopify_plan {self.shopify_plan!r}: choose one of {sorted(PLANS)}")

    @property
    def sale_seconds(self) -> float:
        return self.minutes * 60

    def schedule(self) -> list[ScheduledFault]:
        return sorted(self.faults if self.faults is not None else default_faults(self.sale_seconds),
                      key=lambda f: f.at)  # fmt: skip


def default_faults(sale_seconds: float) -> list[ScheduledFault]:
    """Every fault once, spread over the sale (short sales get them closer together)."""
    order: list[tuple[str, dict[str, float]]] = [
        ("webhooks_dropped", {}),
        ("shopify_5xx", {}),
        ("pvx_session_expiry", {}),
        ("callbacks_duplicated", {}),
        ("kill_run_worker", {}),
        ("throttled", {}),
        ("webhooks_duplicated", {}),
        ("pvx_limiter_refusals", {}),
        ("shopify_429", {}),
        ("restart_daemon", {}),
        ("callbacks_dropped", {}),
        ("shopify_timeouts", {"rate": 0.05}),
    ]
    step = sale_seconds / (len(order) + 1)
    last = min(20.0, step)
    return [
        ScheduledFault(at=step * (i + 1), fault=name, seconds=last, **extra)  # type: ignore[arg-type]
        for i, (name, extra) in enumerate(order)
    ]


def parse_fault_list(text: str, sale_seconds: float) -> list[ScheduledFault]:
    """`--faults`: `none`, `all` (the default schedule) or `name@seconds,name@seconds`."""
    if text == "none":
        return []
    if text == "all":
        return default_faults(sale_seconds)
    faults = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, at = part.partition("@")
        if name not in FAULT_NAMES:
            raise ValueError(f"--faults: unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
        try:
            when = float(at) if at else sale_seconds / 2
        except ValueError:
            raise ValueError(f"--faults: {part!r}: the time after @ must be seconds") from None
        faults.append(ScheduledFault(at=when, fault=name, seconds=min(20.0, sale_seconds / 4)))  # type: ignore[arg-type]
    return faults


def load_profile(path: Path | None, **overrides: object) -> StoreProfile:
    """The profile file (if any) with the flags that were given laid over it; errors name the file."""
    data: dict[str, object] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"{path}: {error}") from error
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of settings, got {type(loaded).__name__}")
        data.update(loaded)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return StoreProfile.model_validate(data)
    except ValidationError as error:
        where = str(path) if path else "flags"
        raise ValueError(f"{where}: {error}") from error
