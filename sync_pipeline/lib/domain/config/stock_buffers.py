"""`stock_buffers.yaml`: units held back from Shopify so the store never sells the last few.

Precedence, most specific first: SKU > product tag > velocity tier > default. When several
of a product's tags have a buffer, the largest wins (holding back more is the safe mistake).
A velocity tier applies when units sold per hour (over the last 24 hours, from the ledger) is at
least its threshold; the highest such tier wins.

`peak` is peak mode: while the order rate is above `orders_per_minute`, every buffer not set by
SKU grows by `extra_buffer`, and SKUs selling slower than `slow_below_units_per_hour` push after
the fast sellers and wait only while Shopify's bucket is contested (orders or fulfilments behind,
the bucket without room); see `lib/domain/stock_priority.py`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .base import RulesModel, SemanticProblem, Sku, Text

# Units held back; a negative buffer would publish more than the warehouse holds.
Buffer = Annotated[int, Field(ge=0)]


class VelocityTier(RulesModel):
    min_units_per_hour: float = Field(ge=0)
    buffer: Buffer


class PeakMode(RulesModel):
    # Peak mode is on while more orders than this arrived per minute, on average, over the window.
    orders_per_minute: float = Field(gt=0)
    window_minutes: int = Field(default=10, ge=1, le=240)
    # Added to every buffer except those set by SKU (a SKU's own buffer is the merchant's word).
    extra_buffer: Buffer = 0
    # Under peak mode, SKUs selling slower than this push after the fast sellers, and their raises
    # wait while orders or fulfilments are behind and Shopify's bucket has no room.
    slow_below_units_per_hour: float = Field(default=0, ge=0)


class StockBuffersConfig(RulesModel):
    default: Buffer = 0
    by_sku: dict[Sku, Buffer] = Field(default_factory=dict)
    # Shopify tags are case-insensitive, so tags here are matched case-insensitively.
    by_tag: dict[Text, Buffer] = Field(default_factory=dict)
    velocity_tiers: list[VelocityTier] = Field(default_factory=list)
    peak: PeakMode | None = None

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
            if tier.min_units_per_hour in seen_thresholds:
                problems.append(
                    SemanticProblem(
                        ("velocity_tiers", index, "min_units_per_hour"),
                        f"two tiers start at {tier.min_units_per_hour:g} units per hour",
                    )
                )
            seen_thresholds.add(tier.min_units_per_hour)
        return problems

    def tag_buffer(self, tags: list[str] | tuple[str, ...]) -> int | None:
        wanted = {tag.strip().casefold() for tag in tags}
        matches = [value for tag, value in self.by_tag.items() if tag.casefold() in wanted]
        return max(matches) if matches else None

    def tier_buffer(self, units_per_hour: float) -> int | None:
        eligible = [tier for tier in self.velocity_tiers if units_per_hour >= tier.min_units_per_hour]
        if not eligible:
            return None
        return max(eligible, key=lambda tier: tier.min_units_per_hour).buffer
