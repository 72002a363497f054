"""A full push's inputs that do not depend on Peoplevox's figures, taken while Peoplevox is read.

The hourly reconcile's Peoplevox read is mostly waiting for its rate limiter (15 requests per 15 s:
a 50,000-item catalogue is 100 requests, about 100 s). What the push needs besides the figures (the
Shopify's locations, the catalogue's listings, the ledger's copy of Shopify and the levels Shopify
updated since it) is read meanwhile (`reconcile.py`), so the push starts
computing targets as soon as the snapshot is judged. Nothing here writes to Shopify: the breaker
still sees the whole snapshot before a level is written. The units on orders awaiting allocation
are read with the figures, after the read, not here: they move by the second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.stock_targets import Listing
from sync_pipeline.lib.flows.stock import mismatch
from sync_pipeline.lib.flows.stock.demand import Demand, demand_from
from sync_pipeline.lib.flows.stock.listings import build_listings
from sync_pipeline.lib.flows.stock.ports import Location, Storefront
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, cursors, stock_levels
from sync_pipeline.lib.ledger import catalogue as ledger_catalogue
from sync_pipeline.lib.ledger.catalogue import VariantRow
from sync_pipeline.lib.ledger.stock_levels import LevelRow

# A level's updatedAt has whole seconds and a change may commit a moment after its stamp.
OVERLAP = timedelta(minutes=2)
FULL_READ_CURSOR = "stock_shopify_full_read_at"


@dataclass
class Catalogue:
    """The ledger's side of a full push: every stocked variant as a listing, and its copy of Shopify."""

    demand: Demand
    variants: list[VariantRow]
    listings: list[Listing]
    complete_read: bool  # read every Shopify level, not only those updated since
    newest: dict[str, datetime | None]  # per location id: the newest level updatedAt in the copy
    copy: list[LevelRow]
    # (sku, variant id, title) of variants Shopify does not track, which get no listing (`untracked.py`),
    # and the Peoplevox item codes, to tell which of them the warehouse stocks.
    untracked: list[tuple[str, str, str | None]] = field(default_factory=list)
    item_codes: set[str] = field(default_factory=set)


@dataclass
class Prepared:
    locations: list[Location]
    location_ids: dict[str, str]
    problems: list[ExceptionRecord]  # mapped locations Shopify does not have
    catalogue: Catalogue
    # Levels Shopify updated since the copy's newest, and unfed locations holding our stock. None
    # when a complete read is due (daily: every level, every unfed location): that many pages are
    # left to the push itself, which holds the `shopify_stock` pool.
    fresh: list[LevelRow] | None
    unfed: list[ExceptionRecord] | None
    read_at: datetime  # just before `fresh` was read: the push reads what Shopify updated since


def read_catalogue(
    con: duckdb.DuckDBPyConnection, rules: BusinessRules, now: datetime, location_ids: dict[str, str]
) -> Catalogue:
    """In the caller's transaction."""
    demand = demand_from(con, rules, now)
    variants = ledger_catalogue.stocked_variants(con)
    last = cursors.get(con, FULL_READ_CURSOR)
    complete = last is None or now - datetime.fromisoformat(last) > timedelta(
        hours=rules.stock.shopify_full_read_hours
    )
    return Catalogue(
        demand=demand,
        variants=variants,
        listings=build_listings(variants, location_ids, rules, demand),
        complete_read=complete,
        newest={loc: stock_levels.newest_shopify_update(con, loc) for loc in location_ids.values()},
        copy=stock_levels.quantities(con),
        untracked=ledger_catalogue.untracked_variants(con),
        item_codes=ledger_catalogue.known_item_codes(con),
    )


def read_shopify(
    storefront: Storefront, catalogue: Catalogue, location_ids: dict[str, str], now: datetime
) -> list[LevelRow]:
    """The levels updated since the copy's newest, at every mapped location (all: complete read)."""
    fresh: list[LevelRow] = []
    for location_id in location_ids.values():
        newest = catalogue.newest.get(location_id)
        complete = catalogue.complete_read or newest is None
        since = None if complete else newest.replace(tzinfo=now.tzinfo) - OVERLAP
        fresh.extend(storefront.levels_updated_since(location_id, since))
    return fresh


def unfed_problems(
    storefront: Storefront, locations: list[Location], location_ids: dict[str, str], catalogue: Catalogue
) -> list[ExceptionRecord]:
    """Paging every level of every unfed location is a complete read's job (daily), not every hour's."""
    if not catalogue.complete_read:
        return []
    ours = {v.inventory_item_id for v in catalogue.variants if v.inventory_item_id}
    return mismatch.unmapped_locations_holding_stock(storefront, locations, location_ids.values(), ours)


def prepare_full(storefront: Storefront, ledger: Ledger, rules: BusinessRules, now: datetime) -> Prepared:
    """Reads only. Pushes in doubt are settled by the push step, not here: an incremental push may
    have requests out meanwhile (this step does not hold the `shopify_stock` pool)."""
    locations = storefront.locations()
    location_ids, problems = mismatch.resolve_locations(locations, rules)
    with ledger.transaction() as con:
        catalogue = read_catalogue(con, rules, now, location_ids)
    read_at = datetime.now(UTC)
    if catalogue.complete_read:
        return Prepared(locations, location_ids, problems, catalogue, None, None, read_at)
    fresh = read_shopify(storefront, catalogue, location_ids, now)
    return Prepared(locations, location_ids, problems, catalogue, fresh, [], read_at)


def updated_while_reading(
    storefront: Storefront, prepared: Prepared, read_back: list[LevelRow]
) -> list[LevelRow]:
    """`prepared.fresh` with the levels Shopify updated since (a sale, an incremental push while
    Peoplevox was read: the snapshot step does not hold the `shopify_stock` pool) on top, a page or so
    per location, and the levels the push step read back for its pushes in doubt on top of those.
    A level read twice is kept once, as read last."""
    since = prepared.read_at - OVERLAP
    latest = {(lv.inventory_item_id, lv.location_id): lv for lv in prepared.fresh or []}
    for location_id in prepared.location_ids.values():
        for level in storefront.levels_updated_since(location_id, since):
            latest[(level.inventory_item_id, level.location_id)] = level
    latest.update({(lv.inventory_item_id, lv.location_id): lv for lv in read_back})
    return list(latest.values())
