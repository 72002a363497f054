"""The circuit breaker: is a Peoplevox availability snapshot plausible enough to push?

A snapshot is compared with the last accepted figures of the same items and sites. It is
**suspect** when
- more than `max_zero_share` of the items that had stock would drop to zero (at least `min_skus`
  of them: a run about three items may legitimately sell out all three), or
- total available falls by more than `max_total_drop` (when the accepted figures held at least
  `min_total_units`), or
- a full read returned no rows at all although Peoplevox has item types.
An item the report left out counts as dropping to zero: that is what pushing it would do.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from .config.stock import FeedLimits

Key = tuple[str, str]  # (item code, site)


@dataclass(frozen=True)
class FeedVerdict:
    plausible: bool
    reason: str
    compared: int  # item-site pairs that had stock before
    zero_drops: int  # of those, how many would drop to zero
    total_before: int
    total_after: int

    @property
    def zero_share(self) -> float:
        return self.zero_drops / self.compared if self.compared else 0.0

    @property
    def total_drop(self) -> float:
        return 1 - self.total_after / self.total_before if self.total_before else 0.0


def assess_feed(
    read: Mapping[Key, int],
    accepted: Mapping[Key, int],
    limits: FeedLimits,
    asked: Collection[str] | None = None,
    expected_items: int = 0,
) -> FeedVerdict:
    """`asked`: the item codes a partial read asked for (None: a full read of every item).

    `expected_items`: how many item types Peoplevox has (from the catalogue), so a full read that
    returned nothing is suspect even when nothing was accepted before.
    """
    scope = [k for k in accepted if asked is None or k[0] in asked]
    scope_set = set(scope)
    compared = [k for k in scope if accepted[k] > 0]
    zero_drops = sum(1 for k in compared if read.get(k, 0) <= 0)
    before = sum(max(0, accepted[k]) for k in scope)
    # Pairs new to this read (no accepted figure) count only after: they cannot hide a drop.
    after = sum(max(0, read.get(k, 0)) for k in scope_set)
    verdict = FeedVerdict(True, "", len(compared), zero_drops, before, after)
    if asked is None and not read and expected_items > 0:
        reason = f"the report returned no rows although Peoplevox has {expected_items:,} item types"
        return FeedVerdict(False, reason, len(compared), zero_drops, before, after)
    if zero_drops >= limits.min_skus and verdict.zero_share > limits.max_zero_share:
        reason = (
            f"{zero_drops:,} of {len(compared):,} item-site figures with stock would drop to zero "
            f"({verdict.zero_share:.0%} > {limits.max_zero_share:.0%})"
        )
        return FeedVerdict(False, reason, len(compared), zero_drops, before, after)
    if before >= limits.min_total_units and verdict.total_drop > limits.max_total_drop:
        reason = (
            f"total available would fall from {before:,} to {after:,} units "
            f"({verdict.total_drop:.0%} > {limits.max_total_drop:.0%})"
        )
        return FeedVerdict(False, reason, len(compared), zero_drops, before, after)
    return verdict
