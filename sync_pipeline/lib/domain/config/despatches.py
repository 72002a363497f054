"""`despatches.yaml`: how despatches go back to Shopify."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, Strict

from .base import RulesModel, SemanticProblem


class WithoutTracking(StrEnum):
    # Fulfil without a tracking number once the wait is over; add it with
    # fulfillmentTrackingInfoUpdate when it comes (the default: see docs/despatches_flow.md).
    FULFIL = "fulfil"
    # Keep waiting for the tracking number, however long (the exception says so).
    WAIT = "wait"


class DespatchesConfig(RulesModel):
    # Shopify sends its shipping-confirmation email for each fulfilment created with this set.
    notify_customer: bool = True
    # A package read without a tracking number waits this long for one before the rule below.
    tracking_wait_minutes: int = Field(default=20, ge=0, le=24 * 60)
    without_tracking: Annotated[WithoutTracking, Strict(False)] = WithoutTracking.FULFIL
    # A despatched package not fulfilled in Shopify this long after we read it fails the
    # despatches_reach_shopify check.
    unfulfilled_minutes: int = Field(default=30, ge=1)
    # A fulfilment whose answer was lost is looked up in Shopify only once this long has passed
    # since it was sent, so a request still being processed is not taken for one never received.
    unknown_outcome_settle_seconds: int = Field(default=60, ge=0, le=3600)
    # An order Shopify holds changed lines of (an edit, a refund) that the orders flow has not read
    # yet: its packages wait for the ledger to catch up, and past this long an exception says so.
    order_catch_up_minutes: int = Field(default=15, ge=0, le=24 * 60)
    # How far back the very first read of the Despatch summary goes.
    initial_lookback_days: int = Field(default=2, ge=1, le=60)
    # fulfillmentCreate calls in flight at once (different orders; one order's packages go in
    # turn). The Shopify client paces all of them by the cost bucket, so this only hides latency.
    fulfil_concurrency: int = Field(default=8, ge=1, le=32)
    # A move to the warehouse's location that Shopify refused while still offering MOVE (an item
    # the destination does not stock) is tried again only this long after the refusal, not every
    # run: such a cause is a person's to fix. 0: every run.
    move_retry_minutes: int = Field(default=30, ge=0, le=24 * 60)
    # A fulfil step holds the `shopify_fulfil` pool, which the next despatch run's fulfil step waits
    # for: past this, once that one waits, it starts no new work and hands over (the run after next,
    # and its Peoplevox read, starts only then); while none waits it runs on
    # (lib/flows/despatches/run.py, "Running on", "Handing over"). 60 until session 10.
    fulfil_max_seconds: int = Field(default=20, ge=5, le=600)

    def semantic_problems(self) -> list[SemanticProblem]:
        if (
            self.without_tracking is WithoutTracking.FULFIL
            and self.unfulfilled_minutes <= self.tracking_wait_minutes
        ):
            return [
                SemanticProblem(
                    ("unfulfilled_minutes",),
                    f"{self.unfulfilled_minutes} minutes is not longer than tracking_wait_minutes "
                    f"({self.tracking_wait_minutes}): every package waiting for tracking would fail the check",
                )
            ]
        return []
