"""Settings of one sandbox instance; every field can also be changed later by the control API."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, Field, field_validator

from sync_pipeline.sandbox.peoplevox.faults import FaultSettings
from sync_pipeline.sandbox.peoplevox.limiter import LimitShape
from sync_pipeline.sandbox.peoplevox.warehouse import STATUSES

# How SaveData reports per-row results (service.py `_shaped`). `positional` is the assumed real
# shape; the others are what a tenant might do instead: no Statuses at all, Statuses with no
# Reference, Statuses for failed rows only, Detail lines in another wording.
SaveResultShape = Literal["positional", "no_statuses", "no_references", "errors_only", "other_detail"]
SAVE_RESULT_SHAPES: tuple[str, ...] = get_args(SaveResultShape)


class PeoplevoxSandboxConfig(BaseModel):
    client_id: str = "sandbox"
    username: str = "integration"
    password: str = "sandbox-password"
    session_idle_timeout: float = Field(1800.0, gt=0)
    requests_per_window: int = Field(15, ge=1)
    window_seconds: float = Field(15.0, gt=0)
    # How the limiter refuses (limiter.py): the real shape is unknown.
    limit_shape: LimitShape = "detail"
    # Simulated warehouse seconds per real second while the ticker runs; 0 = the warehouse
    # clock moves only when the control API advances it (tests).
    time_scale: float = Field(0.0, ge=0)
    ticker_interval: float = Field(0.25, gt=0)
    sites: tuple[str, ...] = ("PrimarySite", "Wholesale")
    faults: FaultSettings = Field(default_factory=FaultSettings)
    # Warehouse floor timings in simulated seconds (see warehouse.py).
    allocation_delay: float = 300.0
    allocation_retry: float = 600.0
    picking_after: float = 900.0
    packing_after: float = 600.0
    despatch_after: float = 1800.0
    units_per_package: int = Field(3, ge=1)
    short_pick_rate: float = Field(0.0, ge=0, le=1)
    # Share of packages despatched without a tracking number; it arrives tracking_delay later.
    late_tracking_rate: float = Field(0.0, ge=0, le=1)
    tracking_delay: float = Field(600.0, ge=0)
    cancel_cutoff_status: str = "Picking"
    # Lines change only strictly before this status; "Picking": a tenant that lets an allocated
    # order's lines change (warehouse.py).
    line_cutoff_status: str = "Allocated"
    # How cancelling works on a real tenant is unconfirmed (API.md §10). False = a tenant where
    # only people cancel: SaveData with Status=Cancelled is refused like any status change.
    cancel_by_import: bool = True
    # Internal status → the name Peoplevox reports (templates, callbacks), e.g.
    # {"Allocated": "Awaiting stock"}: only New, Despatched, Closed and Cancelled are confirmed.
    reported_statuses: dict[str, str] = Field(default_factory=dict)
    save_result_shape: SaveResultShape = "positional"
    # The largest request body the service reads. Assumed [I]: ASP.NET's default `maxRequestLength`
    # (4,096 KB) on an ASMX host; a bigger body is refused with HTTP 500 before anything is done
    # (endpoint.py). No row limit per SaveData is documented (API.md §11), so none is imposed.
    max_request_bytes: int = Field(4096 * 1024, ge=1024)
    seed: int = 4

    @field_validator("reported_statuses")
    @classmethod
    def _known_statuses(cls, value: dict[str, str]) -> dict[str, str]:
        return check_reported_statuses(value)


def check_reported_statuses(value: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(value) - set(STATUSES))
    if unknown:
        raise ValueError(f"reported_statuses: unknown status(es) {unknown}; known: {list(STATUSES)}")
    if any(not name.strip() for name in value.values()):
        raise ValueError("reported_statuses: a reported name cannot be blank")
    return value
