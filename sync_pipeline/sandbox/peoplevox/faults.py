"""Fault injection settings, changed at run time through the control API.

Counters (``*_next``) hit the next N matching requests exactly, so tests are deterministic;
rates are for the demo and use a seeded random generator.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# What the Item inventory summary answers: the real figures, or a maintenance window's zeros or
# empty list (stock_moves.feed_rows applies it).
InventoryFeed = Literal["normal", "zero", "empty"]


class FaultSettings(BaseModel):
    model_config = {"validate_assignment": True}

    latency_seconds: float = Field(0.0, ge=0)
    # Answer the next N SOAP requests with HTTP `error_status` before doing anything.
    error_next: int = Field(0, ge=0)
    error_rate: float = Field(0.0, ge=0, le=1)
    error_status: int = Field(500, ge=500, le=599)
    # ASMX reports an unhandled server error (SQL timeout, deadlock) as a soap:Server fault with
    # HTTP 500. `server_fault_next`: the next N SOAP requests fault before anything is done.
    # `server_fault_after_save_next`: the next N SaveData requests save the first half of their
    # rows (rounded up), then fault: a save that timed out part-way.
    server_fault_next: int = Field(0, ge=0)
    server_fault_after_save_next: int = Field(0, ge=0)
    # Save the next N SaveData requests, then cut the connection half-way through the answer.
    drop_after_save_next: int = Field(0, ge=0)
    # Save the next N SaveData requests, then hold the answer this long (client timeouts).
    slow_save_next: int = Field(0, ge=0)
    slow_save_seconds: float = Field(0.0, ge=0)
    # Sessions die after this many authenticated calls (None = only the idle timeout).
    session_max_calls: int | None = Field(None, ge=1)
    # Despatch summary rows of these packages show a blank Despatch date (a row the report could
    # not date); a date filter then leaves them out, as it would any blank value.
    undated_packages: list[str] = Field(default_factory=list)
    callback_drop_rate: float = Field(0.0, ge=0, le=1)
    callback_duplicate_rate: float = Field(0.0, ge=0, le=1)
    callback_delay_seconds: float = Field(0.0, ge=0)
    # A maintenance window: the Item inventory summary answers 0 for every row (`zero`) or no
    # rows at all (`empty`), as if nothing were wrong (stock_moves.py).
    inventory_feed: InventoryFeed = "normal"
    seed: int = 7
