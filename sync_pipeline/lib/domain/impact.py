"""The impact score of an open exception, and its priority: how the ranked list is ordered.

    impact = weight(kind) × value × urgency × b2b × velocity

- weight: 1–5 from the catalogue: how bad the problem is by itself.
- value: 1 + log10(1 + value at risk). Value at risk is the order's total for an order's
  exception, or one day of a SKU's sales for a SKU's (units per day × average price). The log
  keeps a £5,000 order from burying every other problem while still ranking it above a £20 one.
- urgency: for kinds that delay despatch, by hours left before the order's despatch deadline
  (paid + `despatch_sla_hours`): 1 with 12 h or more, 1.5 under 12 h, 2 under 4 h, 3 overdue. For
  kinds that delay the customer's shipping notice: 1.5 once open a day. Otherwise 1.
- b2b: `b2b_weight` for a B2B order, else 1.
- velocity: for stock problems and unmapped SKUs, 1 + log10(1 + units sold per day), else 1:
  a fast seller's problem costs more every hour.

Priority: P1 at `p1_score` or above, P2 at `p2_score` or above, else P3.

A kind that stops a whole flow for the store (`stops_flow` in the catalogue: a suspect stock feed
blocks every stock push) is P1 whatever its factors, scored at least `p1_score`; its value at risk
and velocity are the whole store's (a day of all sales), so among several P1s the busier store's
stoppage still ranks above a single order's problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sync_pipeline.lib.domain.config.ops import OpsConfig
from sync_pipeline.lib.domain.exception_catalogue import CATALOGUE, Delays

# Kinds outside the catalogue (rows from an older version) rank with this weight.
UNLISTED_WEIGHT = 2
VELOCITY_KINDS = frozenset({"unmapped_sku"})


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


@dataclass(frozen=True)
class ExceptionFacts:
    """What the ledger knows that bears on one open exception's impact."""

    kind: str
    opened_at: datetime
    value_at_risk: float | None  # order total, or a day of the SKU's sales
    despatch_due_at: datetime | None  # when the order should have left the warehouse (None: no order)
    b2b: bool
    units_per_day: float | None  # SKU velocity; None when not about SKUs


@dataclass(frozen=True)
class Impact:
    score: float
    priority: Priority
    hours_left: float | None  # before the despatch deadline; negative once overdue
    urgency: float


def despatch_deadline(paid_at: datetime | None, config: OpsConfig) -> datetime | None:
    return None if paid_at is None else paid_at + timedelta(hours=config.despatch_sla_hours)


def urgency(delays: Delays | None, hours_left: float | None, open_hours: float) -> float:
    if delays is Delays.DESPATCH and hours_left is not None:
        if hours_left <= 0:
            return 3.0
        if hours_left < 4:
            return 2.0
        if hours_left < 12:
            return 1.5
        return 1.0
    if delays is Delays.CUSTOMER_NOTICE and open_hours >= 24:
        return 1.5
    return 1.0


def score(facts: ExceptionFacts, config: OpsConfig, now: datetime) -> Impact:
    entry = CATALOGUE.get(facts.kind)
    weight = entry.weight if entry else UNLISTED_WEIGHT
    delays = entry.delays if entry else None
    value = 1.0 + math.log10(1.0 + max(0.0, facts.value_at_risk or 0.0))
    hours_left = (
        None if facts.despatch_due_at is None else (facts.despatch_due_at - now).total_seconds() / 3600
    )
    open_hours = max(0.0, (now - facts.opened_at).total_seconds() / 3600)
    u = urgency(delays, hours_left, open_hours)
    b2b = config.b2b_weight if facts.b2b else 1.0
    about_skus = delays is Delays.STOCK or facts.kind in VELOCITY_KINDS
    velocity = 1.0 + math.log10(1.0 + max(0.0, facts.units_per_day or 0.0)) if about_skus else 1.0
    total = round(weight * value * u * b2b * velocity, 2)
    if entry is not None and entry.stops_flow:
        total = max(total, config.p1_score)
    priority = (
        Priority.P1 if total >= config.p1_score else Priority.P2 if total >= config.p2_score else Priority.P3
    )
    return Impact(total, priority, None if hours_left is None else round(hours_left, 1), u)
