"""The circuit breaker: is a Peoplevox availability snapshot plausible enough to push?

A snapshot is compared with the last accepted figures of the same items and sites. It is
**suspect** when
- more than `max_zero_share` of the items that had stock would drop to zero (at least `min_skus`
  of them: a run about three items may legitimately sell out all three), or
- total available falls by more than `max_total_drop` (when the accepted figures held at least
  `min_total_units`), or
- a full read returned no rows at all although Peoplevox has item types.
An item the report left out counts as dropping to zero: that is what pushing it would do.

Small incremental reads are also judged **together** (`assess_recent`): a bad feed during a quiet
spell answers one or two items per run, each far under `min_skus`, and would otherwise zero them
run after run until the hourly full read trips. Any run of consecutive recent incremental reads
ending with this one, taken as one read, must pass the zero-share rule; so at most `min_skus - 1`
item figures are zeroed before the breaker trips.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

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


@dataclass(frozen=True)
class EarlierRead:
    """An accepted incremental read in the window: what it compared and dropped to zero."""

    taken_at: datetime
    compared: int
    zero_drops: int


def assess_recent(verdict: FeedVerdict, earlier: Sequence[EarlierRead], limits: FeedLimits) -> FeedVerdict:
    """The zero-share rule over this read and the accepted incremental reads just before it
    (`earlier`, oldest first: those of the window, since the last full read or person's say-so).

    Suspect when, for some k, this read and the k reads before it together drop at least
    `min_skus` figures to zero and more than `max_zero_share` of those they compared. A read that
    zeroes nothing is never held back by earlier ones: accepting it zeroes nothing. The verdict
    keeps this read's own counts, so the next run can sum them again.
    """
    if not verdict.plausible or verdict.zero_drops == 0:
        return verdict
    drops, compared = verdict.zero_drops, verdict.compared
    for reads, read in enumerate(reversed(earlier), start=2):
        drops, compared = drops + read.zero_drops, compared + read.compared
        if drops >= limits.min_skus and drops / compared > limits.max_zero_share:
            reason = (
                f"over the last {reads} incremental reads (since {read.taken_at:%H:%M} UTC), {drops:,} of "
                f"{compared:,} item-site figures with stock dropped to zero "
                f"({drops / compared:.0%} > {limits.max_zero_share:.0%})"
            )
            return replace(verdict, plausible=False, reason=reason)
    return verdict
