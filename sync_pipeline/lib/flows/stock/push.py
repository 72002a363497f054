"""The push: accepted Peoplevox figures → Shopify `available` for every listing they touch.

A run takes every accepted snapshot not pushed yet. After a full snapshot (the hourly reconcile)
every listing is recomputed against the ledger's copy of Shopify, refreshed with the levels updated
since its last read (all of them once a day); after an incremental one, only the listings whose
recipe uses an item read, against levels read fresh. Only targets Shopify does not show are
written (`writes.py`). Nothing is pushed while a `stock_feed_suspect` exception is open.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.flows.stock import mismatch
from sync_pipeline.lib.flows.stock.demand import read_demand
from sync_pipeline.lib.flows.stock.in_doubt import settle_in_doubt
from sync_pipeline.lib.flows.stock.inputs import open_order_units
from sync_pipeline.lib.flows.stock.listings import build_listings, recipes_for
from sync_pipeline.lib.flows.stock.ports import LevelRead, Storefront
from sync_pipeline.lib.flows.stock.report import PushReport
from sync_pipeline.lib.flows.stock.snapshot import feed_suspect_open
from sync_pipeline.lib.flows.stock.writes import Budget, Plan, reread, write_targets
from sync_pipeline.lib.ledger import Ledger, stock_levels, stock_snapshots
from sync_pipeline.lib.ledger import catalogue as ledger_catalogue
from sync_pipeline.lib.ledger.stock_levels import LevelRow, PositionRow

# A level's updatedAt has whole seconds and a change may commit a moment after its stamp.
OVERLAP = timedelta(minutes=2)
FULL_READ_CURSOR = "stock_shopify_full_read_at"


def refresh_copy(
    storefront: Storefront, ledger: Ledger, location_ids: list[str], full_read_hours: int, now: datetime
) -> int:
    """Bring the ledger's copy of Shopify up to date: levels updated since the last read, or all."""
    last = ledger.get_cursor(FULL_READ_CURSOR)
    complete = last is None or now - datetime.fromisoformat(last) > timedelta(hours=full_read_hours)
    read = 0
    for location_id in location_ids:
        since = None
        if not complete:
            with ledger.transaction() as con:
                newest = stock_levels.newest_shopify_update(con, location_id)
            since = None if newest is None else newest.replace(tzinfo=now.tzinfo) - OVERLAP
        fresh = storefront.levels_updated_since(location_id, since)
        with ledger.transaction() as con:
            read += stock_levels.upsert_levels(
                con, [LevelRow(lv.inventory_item_id, lv.location_id, lv.available, lv.committed, lv.updated_at)
                      for lv in fresh], now)  # fmt: skip
    if complete:
        ledger.set_cursor(FULL_READ_CURSOR, now.isoformat())
    return read


def push(
    storefront: Storefront,
    ledger: Ledger,
    rules: BusinessRules,
    now: datetime,
    run_id: str | None = None,
    max_points: float | None = None,
) -> PushReport:
    report = PushReport()
    if feed_suspect_open(ledger):
        report.mode = "blocked"
        return report
    report.in_doubt = settle_in_doubt(storefront, ledger, now)
    with ledger.transaction() as con:
        snapshots = stock_snapshots.unpushed(con)
    if not snapshots:
        return report
    full = any(s.kind == "full" for s in snapshots)
    report.mode = "full" if full else "items"
    report.snapshots = [s.snapshot_id for s in snapshots]
    budget = Budget(storefront, max_points)

    locations = storefront.locations()
    location_ids, problems = mismatch.resolve_locations(locations, rules)
    demand = read_demand(ledger, rules, now)
    report.peak = demand.peak
    with ledger.transaction() as con:
        variants = ledger_catalogue.stocked_variants(con)
        items = None if full else stock_snapshots.items_of(con, report.snapshots)
        site_totals = stock_snapshots.accepted_site_totals(con)
    problems += mismatch.unmapped_sites(site_totals, rules)
    if full:
        our_items = {v.inventory_item_id for v in variants if v.inventory_item_id}
        problems += mismatch.unmapped_locations_holding_stock(
            storefront, locations, location_ids.values(), our_items
        )
    report.mismatches = mismatch.record(ledger, problems, complete=full)

    listings = build_listings(variants, location_ids, rules, demand)
    if items is None:
        affected = needed = listings
    else:
        affected = [lst for lst in listings if any(code in items for code, _ in lst.recipe)]
        codes = {code for lst in affected for code, _ in lst.recipe}
        needed = [lst for lst in listings if any(code in codes for code, _ in lst.recipe)]
    open_units = open_order_units(ledger, rules)
    recipes = recipes_for({lst.sku for lst in needed} | {u.sku for u in open_units}, rules)
    with ledger.transaction() as con:
        figures = stock_snapshots.accepted_figures(
            con, None if full else {c for lst in needed for c, _ in lst.recipe}
        )
    plan = Plan(
        needed,
        {(lst.sku, lst.location_id) for lst in affected},
        figures,
        open_units,
        recipes,
        list(rules.routing.sites),
    )
    if full:
        refresh_copy(
            storefront, ledger, list(location_ids.values()), rules.stock.shopify_full_read_hours, now
        )
        with ledger.transaction() as con:
            copy = stock_levels.levels(con)
        plan.levels = {
            k: LevelRead(v.inventory_item_id, v.location_id, v.available, v.committed)
            for k, v in copy.items()
        }
    elif needed:
        reread(storefront, ledger, plan, needed, now)

    targets = plan.targets()
    report.listings = len(targets)
    report.no_figure = len(affected) - len(targets)
    before = {k: plan.shown(t) for k, t in targets.items()}
    order = sorted(targets, key=lambda k: (-demand.sku_per_hour.get(k[0], 0.0), k))
    outcome = write_targets(storefront, ledger, plan, order, report, budget, now, run_id)
    report.points = budget.spent
    final = plan.targets()
    report.corrections = sorted(
        ((k[0], k[1], before[k], targets[k].quantity) for k, o in outcome.items() if o == "applied"),
        key=lambda c: (-abs(c[3] - (c[2] or 0)), c[0]),
    )[:25]
    left = {k for k, o in outcome.items() if o in ("deferred", "stale", "outcome_unknown")}
    with ledger.transaction() as con:
        stock_levels.upsert_positions(
            con,
            [
                PositionRow(
                    sku, loc, t.listing.inventory_item_id, t.listing.site, t.quantity, t.peoplevox_available,
                    t.reserved, t.listing.buffer.buffer, t.listing.buffer.source, plan.shown(t), now,
                    now if (sku, loc) in outcome else None, outcome.get((sku, loc), "in_step"),
                )
                for (sku, loc), t in final.items()
            ],
        )  # fmt: skip
        # What this run could not finish goes back in the queue: the next run re-reads and pushes it.
        stock_snapshots.hint(con, {c: 1 for k in left for c, _ in targets[k].listing.recipe}, now)
        stock_snapshots.mark_pushed(con, report.snapshots, now)
    return report
