"""`ops.yaml`: how the ranked exception list weighs and ages exceptions (docs/runbook.md, "Priority")."""

from __future__ import annotations

from pydantic import Field

from .base import RulesModel, SemanticProblem

OWNERS = ("warehouse_ops", "cx", "finance", "integration")


class OpsConfig(RulesModel):
    # A paid order should leave the warehouse within this many hours; an exception that delays
    # despatch grows more urgent as this deadline nears and most urgent once it has passed.
    despatch_sla_hours: int = Field(default=24, ge=1, le=24 * 14)
    # A B2B order's exception counts this many times a DTC one's (bigger orders, contracts).
    b2b_weight: float = Field(default=2.0, ge=1.0, le=10.0)
    # SKU velocity (units sold per day) is measured over this many days of orders.
    velocity_days: int = Field(default=14, ge=1, le=90)
    # Impact scores at or above these are P1 (top priority) and P2.
    p1_score: float = Field(default=20.0, gt=0)
    p2_score: float = Field(default=8.0, gt=0)
    # An owner's check fails when one of their P1 exceptions has been open longer than this.
    p1_age_hours: dict[str, float] = Field(
        default_factory=lambda: {"warehouse_ops": 4.0, "cx": 8.0, "finance": 48.0, "integration": 8.0}
    )

    def semantic_problems(self) -> list[SemanticProblem]:
        problems: list[SemanticProblem] = []
        if self.p2_score >= self.p1_score:
            problems.append(SemanticProblem(("p2_score",), f"must be below p1_score ({self.p1_score})"))
        for owner, hours in self.p1_age_hours.items():
            if owner not in OWNERS:
                problems.append(
                    SemanticProblem(("p1_age_hours", owner), f"unknown owner; owners are {', '.join(OWNERS)}")
                )
            elif hours <= 0:
                problems.append(SemanticProblem(("p1_age_hours", owner), "must be more than 0 hours"))
        return problems

    def p1_age_limit(self, owner: str) -> float:
        return self.p1_age_hours.get(owner, 8.0)
