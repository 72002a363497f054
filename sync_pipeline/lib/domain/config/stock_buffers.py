"""`stock_buffers.yaml`: units held back from Shopify so the store never sells the last few.

Precedence, most specific first: SKU > product tag > velocity tier > default. When several
of a product's tags have a buffer, the largest wins (holding back more is the safe mistake).
A velocity tier applies when units sold per day ≥ its threshold; the highest such tier wins.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .base import RulesModel, SemanticProblem, Sku, Text

# Units held back; a negative buffer would publish more than the warehouse holds.
Buffer = Annotated[int, Field(ge=0)]


class VelocityTier(RulesModel):
    min_units_per_day: float = Field(ge=0)
    buffer: Buffer


class StockBuffersConfig(RulesModel):
    default: Buffer = 0
    by_sku: dict[Sku, Buffer] = Field(default_factory=dict)
    # Shopify tags are case-insensitive, so tags here are matched case-insensitively.
    by_tag: dict[Text, Buffer] = Field(default_factory=dict)
    velocity_tiers: list[VelocityTier] = Field(default_factory=list)

    def semantic_problems(self) -> list[SemanticProblem]:
        problems: list[SemanticProblem] = []
        seen_tags: dict[str, str] = {}
        for tag in self.by_tag:
            folded = tag.casefold()
            if folded in seen_tags:
                problems.append(
                    SemanticProblem(
                        ("by_tag", tag),
                        f"tag {tag!r} is the same as {seen_tags[folded]!r} (tags ignore case)",
                    )
                )
            seen_tags.setdefault(folded, tag)
        seen_thresholds: set[float] = set()
        for index, tier in enumerate(self.velocity_tiers):
            if tier.min_units_per_day in seen_thresholds:
                problems.append(
                    SemanticProblem(
                        ("velocity_tiers", index, "min_units_per_day"),
                        f"two tiers start at {tier.min_units_per_day:g} units per day",
                    )
                )
            seen_thresholds.add(tier.min_units_per_day)
        return problems

    def tag_buffer(self, tags: list[str] | tuple[str, ...]) -> int | None:
        wanted = {tag.strip().casefold() for tag in tags}
        matches = [value for tag, value in self.by_tag.items() if tag.casefold() in wanted]
        return max(matches) if matches else None

    def tier_buffer(self, units_per_day: float) -> int | None:
        eligible = [tier for tier in self.velocity_tiers if units_per_day >= tier.min_units_per_day]
        if not eligible:
            return None
        return max(eligible, key=lambda tier: tier.min_units_per_day).buffer
