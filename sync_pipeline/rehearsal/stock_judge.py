"""When each goods-in reached Shopify, judged after the run with the buffer the product used.

The live watcher (`stock_watch.poll`) cannot know, while it polls, whether the figure Shopify shows
was published in peak mode (every buffer but a SKU's own grows by `peak.extra_buffer`): the product
decides that per push run from the ledger's orders, and the watcher stays off the ledger while the
product needs its lock. So the watcher records each SKU's figures as Shopify showed them, and this
module judges each change afterwards, from the ledger's applied pushes and the mode each push run
decided (its materialization's `peak_mode`).

A figure counts in peak mode only when the push that wrote that very quantity was made in peak mode:
judging with the peak target whenever the store was in peak mode would accept a figure an earlier
non-peak push wrote, before the goods-in, as showing a goods-in of up to `extra_buffer` units that
never reached Shopify. A figure no known push explains (or a push whose run left no mode behind) is
judged with the target outside peak mode, the stricter one.

Pure functions over plain data; times are naive UTC, as the ledger stores them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sync_pipeline.rehearsal.stock_watch import Change


@dataclass(frozen=True)
class AppliedPush:
    sent_at: datetime  # written ahead before the request: always before Shopify could show it
    quantity: int
    peak: bool  # the product's peak mode in the run that sent it (False when unknown: stricter)


def figure_in_peak(value: int, shown_since: datetime, pushes: Sequence[AppliedPush]) -> bool:
    """Whether Shopify's figure `value`, first seen at `shown_since`, came from a push made in peak
    mode: the latest applied push of that quantity sent before Shopify was seen showing it."""
    for p in sorted(pushes, key=lambda p: p.sent_at, reverse=True):
        if p.sent_at <= shown_since and p.quantity == value:
            return p.peak
    return False


def seen_at(
    change: Change, history: Sequence[tuple[datetime, int]], pushes: Sequence[AppliedPush]
) -> datetime | None:
    """The first moment from the goods-in on at which Shopify showed at least the change's target
    under the buffer of the push behind the figure. `history`: (first seen at, figure) each time the
    SKU's figure changed, oldest first."""
    if change.booked_at is None:
        return None
    before = [(t, v) for t, v in history if t <= change.booked_at]
    moments = [(change.booked_at, v, t) for t, v in before[-1:]]
    moments += [(t, v, t) for t, v in history if t > change.booked_at]
    for moment, value, since in moments:
        peak = change.peak_target is not None and figure_in_peak(value, since, pushes)
        if value >= (change.peak_target if peak and change.peak_target is not None else change.target):
            return moment
    return None


def rejudge(
    changes: Sequence[Change],
    history: Mapping[str, Sequence[tuple[datetime, int]]],
    pushes: Mapping[str, Sequence[AppliedPush]],
) -> None:
    """Set each change's `seen_after` (monotonic, as the watcher keeps it) from `seen_at`; a change
    no figure satisfied is never seen, whatever the live poll thought."""
    for change in changes:
        when = seen_at(change, history.get(change.sku, ()), pushes.get(change.sku, ()))
        change.seen_after = (
            None
            if when is None or change.booked_at is None
            else change.at + (when - change.booked_at).total_seconds()
        )
