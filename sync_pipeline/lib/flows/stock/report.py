"""What one push run did, for the asset's metadata and the sensor."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class PushReport:
    mode: str = "none"  # full | items | none (nothing new) | blocked (a suspect feed is open)
    snapshots: list[int] = field(default_factory=list)
    listings: int = 0  # SKU-location targets computed
    no_figure: int = 0  # listings Peoplevox gave no figure for (item not read yet)
    differing: int = 0  # targets Shopify did not show
    # Of those, rows nothing is selling (`stock_priority.is_quiet`): sent first, in requests of their own.
    quiet: int = 0
    applied: int = 0  # quantities Shopify now holds from this run
    requests: int = 0
    stale: int = 0  # rows refused as stale (then re-read and retried)
    # (requests, rows applied) per round; a round ends when Shopify found rows stale: they are re-read.
    rounds: list[tuple[int, int]] = field(default_factory=list)
    stale_left: int = 0  # still stale after the retries: queued for the next run
    refused: int = 0
    outcome_unknown: int = 0
    # Not pushed: the run spent its share of the Shopify bucket, or its time (`max_seconds` from its
    # first request).
    deferred: int = 0
    # Not pushed: slow sellers' raises in peak mode while orders or fulfilments were behind and the
    # bucket had no room (`stock_priority.waits_for_room`); queued for a run that finds room.
    waiting: int = 0
    # Not pushed: another run read these figures afresh since this one read them, and pushes them.
    superseded: int = 0
    points: float = 0.0
    peak: bool = False
    prepared: bool = False  # a full push whose inputs were read during the Peoplevox read
    in_doubt: Counter[str] = field(default_factory=Counter)
    mismatches: int = 0
    # Full runs: variants Shopify does not track (no push can set them: none is made), and those of
    # them the warehouse stocks (a `stock_untracked_variant` exception each: `untracked.py`).
    untracked: int = 0
    untracked_stocked: int = 0
    # (sku, location id, Shopify before, target), the largest corrections first
    corrections: list[tuple[str, str, int | None, int]] = field(default_factory=list)
    # Items queued for the next incremental run (not those this run left waiting for room); counted
    # by a run that found nothing new to push too.
    queue_ready: int = 0
    position_totals: dict[str, int] = field(default_factory=dict)
    push_states: dict[str, int] = field(default_factory=dict)

    @property
    def caught_up(self) -> bool:
        return not self.deferred and not self.stale_left and not self.outcome_unknown and not self.queue_ready

    @property
    def summary(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "listings": self.listings,
            "no_peoplevox_figure": self.no_figure,
            "differing": self.differing,
            "quiet_rows_sent_first": self.quiet,
            "applied": self.applied,
            "requests": self.requests,
            "stale_rows_retried": self.stale,
            "requests_and_rows_applied_per_round": ", ".join(f"{r}/{a}" for r, a in self.rounds) or "(none)",
            "stale_left_for_next_run": self.stale_left,
            "refused": self.refused,
            "outcome_unknown": self.outcome_unknown,
            "deferred_for_budget": self.deferred,
            "slow_sellers_waiting_for_room": self.waiting,
            "left_to_a_newer_read": self.superseded,
            "shopify_points": round(self.points, 1),
            "peak_mode": self.peak,
            "prepared_during_read": self.prepared,
            "location_mismatches": self.mismatches,
            "untracked_variants": self.untracked,
            "untracked_variants_stocked_in_peoplevox": self.untracked_stocked,
        }
