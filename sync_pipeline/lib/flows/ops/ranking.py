"""Open exceptions ranked by impact, one list across flows (lib/domain/impact.py defines the score)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sync_pipeline.lib.domain.config.ops import OpsConfig
from sync_pipeline.lib.domain.exception_catalogue import CATALOGUE, current_owner
from sync_pipeline.lib.domain.impact import ExceptionFacts, Priority, despatch_deadline, score
from sync_pipeline.lib.ledger.ops import OpenExceptionRow, SkuSales


@dataclass(frozen=True)
class RankedException:
    rank: int
    exception_id: int
    priority: Priority
    impact: float
    owner: str
    kind: str
    age_hours: float
    hours_to_deadline: float | None
    order_name: str | None
    shopify_order_id: str | None
    sales_order_number: str | None
    subject: str
    value_at_risk: float | None
    currency: str | None
    b2b: bool
    units_per_day: float | None
    occurrences: int
    opened_at: datetime
    message: str

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["priority"] = self.priority.value
        out["opened_at"] = self.opened_at.isoformat() + "Z"
        return out


def store_sales(sales: Mapping[str, SkuSales]) -> SkuSales | None:
    """Every SKU's sales as one: units per day, and the average price of a unit sold."""
    units = sum(s.units_per_day for s in sales.values())
    if units <= 0:
        return None
    return SkuSales(units, sum(s.units_per_day * s.average_price for s in sales.values()) / units)


def _velocity(row: OpenExceptionRow, skus: Sequence[str], sales: Mapping[str, SkuSales]) -> SkuSales | None:
    """The fastest seller among the SKUs the exception is about (its subject, or its order's lines);
    the whole store's sales for a kind that stops a flow for every SKU."""
    entry = CATALOGUE.get(row.kind)
    if entry is not None and entry.stops_flow:
        return store_sales(sales)
    candidates = [sales[s] for s in ([row.subject] if row.subject in sales else skus) if s in sales]
    return max(candidates, key=lambda s: s.units_per_day, default=None)


def rank(
    rows: Sequence[OpenExceptionRow],
    order_skus: Mapping[str, Sequence[str]],
    sales: Mapping[str, SkuSales],
    config: OpsConfig,
    now: datetime,
) -> list[RankedException]:
    """Highest impact first; ties go to the older exception."""
    scored = []
    for row in rows:
        velocity = _velocity(row, order_skus.get(row.shopify_order_id or "", ()), sales)
        value = float(row.total_price) if row.total_price is not None else None
        if value is None and velocity is not None:
            value = velocity.units_per_day * velocity.average_price  # a day of the SKU's sales
        impact = score(
            ExceptionFacts(
                kind=row.kind,
                opened_at=row.opened_at,
                value_at_risk=value,
                despatch_due_at=despatch_deadline(row.paid_seen_at, config),
                b2b=row.b2b,
                units_per_day=None if velocity is None else velocity.units_per_day,
            ),
            config,
            now,
        )
        scored.append((row, impact, value, velocity))
    scored.sort(key=lambda t: (-t[1].score, t[0].opened_at, t[0].exception_id))
    return [
        RankedException(
            rank=i,
            exception_id=row.exception_id,
            priority=impact.priority,
            impact=impact.score,
            owner=current_owner(row.kind, row.owner),
            kind=row.kind,
            age_hours=round(max(0.0, (now - row.opened_at).total_seconds() / 3600), 1),
            hours_to_deadline=impact.hours_left,
            order_name=row.order_name,
            shopify_order_id=row.shopify_order_id,
            sales_order_number=row.sales_order_number,
            subject=row.subject,
            value_at_risk=None if value is None else round(value, 2),
            currency=row.currency,
            b2b=row.b2b,
            units_per_day=None if velocity is None else round(velocity.units_per_day, 2),
            occurrences=row.occurrences,
            opened_at=row.opened_at,
            message=row.message,
        )
        for i, (row, impact, value, velocity) in enumerate(scored, start=1)
    ]
