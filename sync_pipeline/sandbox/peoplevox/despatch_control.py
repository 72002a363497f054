"""Control API for despatches driven by hand: exact packages, short picks, late tracking numbers.

Tests and benchmarks use these to despatch an order the way a floor would on a bad day, instead of
waiting for the simulated timings: `POST /_sandbox/orders/{number}/despatch` ships the packages
given (fewer units than allocated is a short pick; more is an item the floor added, taken from
on-hand stock), and `POST /_sandbox/packages/{number}/tracking` delivers a late tracking number.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sync_pipeline.sandbox.peoplevox.state import SandboxState
from sync_pipeline.sandbox.peoplevox.warehouse import PACKED, WarehouseError


class PackageIn(BaseModel):
    items: dict[str, int] = Field(min_length=1)
    # False: despatched without a tracking number (it comes later, by the tracking route or
    # `tracking_delay` simulated seconds on).
    tracking: bool = True


class DespatchIn(BaseModel):
    packages: list[PackageIn] = Field(min_length=1)


class TrackingIn(BaseModel):
    tracking_number: str | None = None


def despatch(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    spec = DespatchIn.model_validate(body)
    number = str(body["number"])
    w = state.warehouse
    with w.lock:
        order = w.orders.get(number)
        if order is None:
            raise WarehouseError(f"Sales order '{number}' does not exist")
        if order.status != PACKED:
            w.force_status(number, PACKED)
        if any(q < 1 for p in spec.packages for q in p.items.values()):
            raise WarehouseError("every package item needs at least one unit")
        record = w.record_despatch(
            order, [p.items for p in spec.packages], [not p.tracking for p in spec.packages]
        )
        return {
            "despatch_number": record.number,
            "packages": [{"number": p.number, "tracking_number": p.tracking_number} for p in record.packages],
            "status": order.status,
        }


def tracking(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    package = state.warehouse.assign_tracking(
        str(body["number"]), TrackingIn.model_validate(body).tracking_number
    )
    return {"number": package.number, "tracking_number": package.tracking_number}
