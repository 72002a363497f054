"""`finance.yaml`: the reconciliation's despatch SLA, check thresholds and return conditions."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import Field, Strict

from .base import RulesModel


class FinanceConfig(RulesModel):
    # A paid (or authorised) order not fully despatched this long after payment is
    # `paid_not_despatched` instead of `awaiting_despatch`.
    despatch_sla_hours: int = Field(default=48, ge=1, le=24 * 90)
    # The paid_not_despatched_within_sla check warns about any such order and fails (ERROR) when
    # their total value in the shop's currency is above this.
    # Written as a string ("1000.00") so YAML does not turn it into a float.
    paid_not_despatched_error_value: Annotated[Decimal, Strict(False)] = Field(
        default=Decimal("1000.00"), ge=0, decimal_places=2
    )
    # Peoplevox `Return condition` values meaning the unit went back on the shelf (reusable);
    # compared without case. Any other condition is not reusable.
    reusable_conditions: list[str] = Field(default_factory=lambda: ["Reusable"])
    # How far back the very first read of Shopify money and Peoplevox returns goes.
    initial_lookback_days: int = Field(default=2, ge=1, le=400)
    # The daily schedule re-reconciles orders placed this many days back (refunds and returns
    # keep arriving for weeks); the checks look at the same days.
    refresh_days: int = Field(default=35, ge=1, le=400)
    # How long one hourly (live) money read may hold the `shopify_finance` pool while it spends the
    # Shopify bucket that ingest, fulfilments and stock pushes share. 30 s is ingest's own live-read
    # budget: during a sale no money read draws on the bucket longer than one ingest read. A read
    # stopped by it saves its cursor and the `finance_money_backlog` sensor starts the next run at
    # once.
    money_read_max_seconds: float = Field(default=30, gt=0, le=600)
    # The money read is background work sharing that bucket: before each page it waits until the
    # bucket holds the page's cost plus this share of the bucket's size, left to ingest,
    # fulfilments and stock pushes (lib/shopify/pacing.py). It yields within the budget above.
    money_read_bucket_reserve: float = Field(default=0.5, ge=0, lt=1)

    @property
    def despatch_sla(self) -> timedelta:
        return timedelta(hours=self.despatch_sla_hours)

    def is_reusable(self, condition: str | None) -> bool:
        wanted = {c.casefold() for c in self.reusable_conditions}
        return condition is not None and condition.strip().casefold() in wanted
