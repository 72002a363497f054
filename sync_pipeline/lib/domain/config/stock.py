"""`stock.yaml`: how stock goes from Peoplevox to Shopify (docs/stock_flow.md).

`locations` maps each Peoplevox site to the Shopify location whose `available` it sets, by the
location's name as the Shopify admin shows it. A site missing here is not published (and a site
holding stock with no location is an `inventory_location_mismatch` exception).
"""

from __future__ import annotations

from pydantic import Field

from ..location_names import comparable
from .base import PeoplevoxName, RulesModel, SemanticProblem, Text


class FeedLimits(RulesModel):
    """When a Peoplevox snapshot is too implausible to push (the circuit breaker)."""

    # Suspect when more than this share of the SKUs that had stock would drop to zero…
    max_zero_share: float = Field(default=0.2, gt=0, le=1)
    # …counting only when at least this many drop (a run about three items may sell out all three).
    min_skus: int = Field(default=10, ge=1)
    # Suspect when total available falls by more than this share from the last accepted figures…
    max_total_drop: float = Field(default=0.5, gt=0, le=1)
    # …when those figures held at least this many units.
    min_total_units: int = Field(default=100, ge=0)
    # Incremental reads this recent (and since the last accepted full read) are also judged
    # together by the zero-share rule, so a bad feed answering a few items per run still trips it.
    window_minutes: int = Field(default=120, ge=1, le=24 * 60)


class StockConfig(RulesModel):
    # Peoplevox site → Shopify location name.
    locations: dict[PeoplevoxName, Text] = Field(default_factory=dict)
    # Sites whose stock is deliberately not sold in Shopify (a wholesale site, say): no exception.
    unpublished_sites: list[PeoplevoxName] = Field(default_factory=list)
    feed: FeedLimits = Field(default_factory=FeedLimits)
    # Full snapshots (and everything read since) are kept this long for drift analysis.
    snapshot_retention_days: int = Field(default=7, ge=1, le=400)
    # The hourly reconcile reads only the Shopify levels updated since its last read; every this
    # many hours it reads them all again, in case a change did not move a level's updatedAt.
    shopify_full_read_hours: int = Field(default=24, ge=1, le=24 * 30)
    # While orders or fulfilments are backlogged, a stock run spends at most this share of the
    # Shopify bucket and leaves the rest for them.
    backlogged_bucket_share: float = Field(default=0.3, gt=0, le=1)
    # The stock_drift check: Shopify differs from the target by more than this many units…
    drift_tolerance_units: int = Field(default=0, ge=0)
    # …for a SKU not pushed in the last this many minutes.
    drift_settle_minutes: int = Field(default=10, ge=1)
    # Item codes per Peoplevox report request when re-reading items named by callbacks
    # (bedrock ORs 100 terms in production; more is untested against a real tenant).
    items_per_request: int = Field(default=100, ge=1, le=500)
    # Items one incremental run re-reads at most; the rest go to the next run (fast sellers first).
    max_items_per_run: int = Field(default=5000, ge=100)
    # A peak-mode switch (stock_buffers.yaml `peak`) queues the items of the listings whose target
    # it moves; more than this many and it asks for one full reconcile instead (0: always).
    peak_switch_max_items: int = Field(default=1000, ge=0)
    # While peak mode is on, the full reconcile also runs this often (0: hourly only). Callbacks are
    # hints that can be lost: a goods-in whose AvailabilityChanges never came stays unsold in
    # Shopify until the next full read. Each costs a paged read of every item (1,000 rows a request,
    # a row an item a site: 100 Peoplevox requests for 50,000 items at two sites, ~17 % of a
    # 15 / 15 s limiter every 10 minutes).
    peak_reconcile_minutes: float = Field(default=10, ge=0, le=60)
    # An incremental push sends no request after this many seconds from its first request and
    # leaves the rest queued (quiet rows first, then fast sellers): it holds the shopify_stock pool, which the next stock run
    # waits for. The hourly reconcile has no time limit.
    max_push_seconds: float = Field(default=10, gt=0, le=600)
    # A push whose answer was lost is read back from Shopify only once this long has passed since it
    # was sent: two stock runs may push at once, and a younger row may be the other's, still on its way.
    unknown_outcome_settle_seconds: int = Field(default=60, ge=0, le=3600)

    def semantic_problems(self) -> list[SemanticProblem]:
        problems: list[SemanticProblem] = []
        seen: dict[str, str] = {}
        for site, location in self.locations.items():
            # Compared as the push matches names (`location_names.comparable`: case, spacing,
            # full-width letters, accents typed as two code points), not by case only.
            key = comparable(location)
            if key in seen:
                problems.append(
                    SemanticProblem(
                        ("locations", site),
                        f"Shopify location {location!r} already takes its stock from site "
                        f"{seen[key]!r}; a location's available can follow one site only",
                    )
                )
            seen.setdefault(key, site)
        for index, site in enumerate(self.unpublished_sites):
            if site in self.locations:
                problems.append(
                    SemanticProblem(
                        ("unpublished_sites", index), f"site {site!r} is mapped in `locations` too"
                    )
                )
        return problems
