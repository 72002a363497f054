"""A push's targets and what Shopify shows, recomputed after each read; what a run may spend.

`Plan` holds everything a target is made of, so targets are recomputed after a fresh read of
Shopify (a stale write); `Budget` is a run's share of Shopify's bucket and of time.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sync_pipeline.lib.domain.stock_targets import Listing, OpenOrderUnits, Recipe, Target, plan_targets
from sync_pipeline.lib.flows.stock.pending import PendingWrites
from sync_pipeline.lib.flows.stock.ports import Storefront
from sync_pipeline.lib.ledger import stock_levels
from sync_pipeline.lib.ledger.stock_levels import LevelRow

Key = tuple[str, str]  # (sku, location id)


@dataclass
class Plan:
    """Everything a target is made of, so targets can be recomputed after a fresh read."""

    listings: list[Listing]  # the affected ones and every one sharing a component with them
    affected: set[Key]
    figures: dict[tuple[str, str], int]
    open_units: list[OpenOrderUnits]
    recipes: dict[str, Recipe]
    sites: list[str]
    # The snapshot each figure came from ((item code, site) → snapshot id): another run may read an
    # item afresh and push it while this one works, and then its figure, not this run's, must win.
    versions: dict[tuple[str, str], int] = field(default_factory=dict)
    levels: dict[tuple[str, str], LevelRow] = field(default_factory=dict)  # (item id, location id)
    # Targets depend on the levels' `committed` only, so they are computed once per read of
    # Shopify (`read`), not after each write: at 100,000 listings each computation costs seconds.
    _targets: dict[Key, Target] | None = field(default=None, repr=False)
    # (item code, site) → the affected rows whose recipe uses it there (`sharing`).
    _users: dict[tuple[str, str], list[Key]] | None = field(default=None, repr=False)

    def read(self, levels: Iterable[LevelRow]) -> None:
        """Levels just read from Shopify (or the ledger's copy of it): targets are recomputed."""
        for level in levels:
            self.levels[(level.inventory_item_id, level.location_id)] = level
        self._targets = None

    def targets(self) -> dict[Key, Target]:
        if self._targets is None:
            self._targets = self._compute()
        return self._targets

    def _compute(self) -> dict[Key, Target]:
        committed = {
            (lst.sku, lst.location_id): (lv.committed if lv else None)
            for lst in self.listings
            for lv in [self.levels.get((lst.inventory_item_id, lst.location_id))]
        }
        found = plan_targets(
            self.listings, self.figures, committed, self.open_units, self.recipes, self.sites
        )
        return {
            (t.listing.sku, t.listing.location_id): t
            for t in found
            if (t.listing.sku, t.listing.location_id) in self.affected
        }

    def computed_from(self, keys: Iterable[Key]) -> dict[tuple[str, str], int]:
        """The figures these targets were computed from: (item code, site) → its snapshot."""
        targets = self.targets()
        used = {(code, targets[k].listing.site) for k in keys for code, _ in targets[k].listing.recipe}
        return {figure: self.versions[figure] for figure in used if figure in self.versions}

    def uses_any(self, key: Key, figures: set[tuple[str, str]]) -> bool:
        listing = self.targets()[key].listing
        return any((code, listing.site) in figures for code, _ in listing.recipe)

    def sharing(self, keys: Iterable[Key]) -> set[Key]:
        """The affected rows (these included) whose target a fresh read of these rows' levels may
        move. A row's Shopify `committed` counts towards the units held back of every item in its
        recipe at its site (`stock_targets.plan_targets`), and every target using that item there
        subtracts them: another SKU overridden to the same item, a configured bundle holding it, a
        bundle's components when the bundle sold. Rows sharing no item at the site are computed
        from figures and levels such a read leaves alone: their targets stay as they are."""
        if self._users is None:
            users: dict[tuple[str, str], list[Key]] = {}
            for lst in self.listings:
                if (lst.sku, lst.location_id) in self.affected:
                    for code, _ in lst.recipe:
                        users.setdefault((code, lst.site), []).append((lst.sku, lst.location_id))
            self._users = users
        targets = self.targets()
        found = set()
        for key in keys:
            listing = targets[key].listing
            for code, _ in listing.recipe:
                found.update(self._users.get((code, listing.site), ()))
        return {k for k in found if k in targets}

    def wrote(self, item_id: str, location_id: str, quantity: int) -> None:
        """Shopify took `quantity` as available; its `committed` (all targets use) is unchanged."""
        before = self.levels.get((item_id, location_id))
        self.levels[(item_id, location_id)] = LevelRow(
            item_id, location_id, quantity, before.committed if before else None
        )

    def shown(self, target: Target) -> int | None:
        level = self.levels.get((target.listing.inventory_item_id, target.listing.location_id))
        return level.available if level else None


class Budget:
    """What one run may spend: of Shopify's bucket, `max_points` or `share` of the bucket's size
    (known after the first answer); of time, `max_seconds` from its first request (a run holds the
    `shopify_stock` pool while it pushes, and the next stock run waits for it). None: no limit.

    The clock starts at the first request, not when the run starts: the work before it (pushes in
    doubt read back, the locations, the levels read) is what it is whatever the limit, and under load
    it took up to 17.7 s (a rehearsal at 1,500 orders a minute), so a 10 s clock started with the run
    was always up by the first request: each run sent that one and deferred the rest."""

    def __init__(
        self,
        storefront: Storefront,
        max_points: float | None = None,
        share: float | None = None,
        max_seconds: float | None = None,
    ) -> None:
        self.storefront = storefront
        self.max_points = max_points
        self.share = share
        self.max_seconds = max_seconds
        self.start = storefront.points_spent()
        self.deadline: float | None = None  # `time.monotonic()` when time is up; set by `sending`

    def sending(self) -> None:
        """A request is about to go: the first starts the clock."""
        if self.deadline is None and self.max_seconds is not None:
            self.deadline = time.monotonic() + self.max_seconds

    @property
    def spent(self) -> float:
        return self.storefront.points_spent() - self.start

    @property
    def limit(self) -> float | None:
        if self.max_points is not None:
            return self.max_points
        size = self.storefront.bucket_size()
        return None if self.share is None or size is None else self.share * size

    def exhausted(self, sent_any: bool = True) -> bool:
        """Points spent, or time up once the run has sent something (so every run makes progress:
        its first request goes, however long the reads before it took; the clock starts with it)."""
        limit = self.limit
        if limit is not None and self.spent >= limit:
            return True
        return sent_any and self.deadline is not None and time.monotonic() >= self.deadline

    @property
    def backlogged(self) -> bool:
        """A share of the bucket was set: orders or fulfilments are behind and need the rest."""
        return self.max_points is not None or self.share is not None

    @property
    def limited(self) -> bool:
        return self.max_points is not None or self.share is not None or self.max_seconds is not None


def read_levels(storefront: Storefront, wanted: Iterable[tuple[str, str]]) -> list[LevelRow]:
    """Shopify's current levels of these (inventory item id, location id) pairs, one call per location."""
    by_location: dict[str, list[str]] = {}
    for item_id, location_id in wanted:
        by_location.setdefault(location_id, []).append(item_id)
    fresh: list[LevelRow] = []
    for location_id, items in by_location.items():
        fresh.extend(storefront.levels(list(dict.fromkeys(items)), location_id).values())
    return fresh


def reread(
    storefront: Storefront, plan: Plan, listings: Iterable[Listing], now: datetime, pending: PendingWrites
) -> None:
    """Fresh Shopify levels for these listings' items into the plan; into the ledger's copy with the
    run's next transaction."""
    fresh = read_levels(storefront, ((lst.inventory_item_id, lst.location_id) for lst in listings))
    plan.read(fresh)
    pending.add(lambda con: stock_levels.upsert_levels(con, fresh, now))
