"""The push: accepted Peoplevox figures → Shopify `available` for every listing they touch.

A run takes every accepted snapshot not pushed yet. After a full snapshot (the hourly reconcile)
every listing is recomputed against the ledger's copy of Shopify, refreshed with the levels updated
since its last read (all of them once a day); after an incremental one, only the listings whose
recipe uses an item read, against levels read fresh. Only targets Shopify does not show are
written (`writes.py`). Nothing is pushed while a `stock_feed_suspect` exception is open.

The ledger is opened a handful of times per run, never across a Shopify call: one for the pushes
in doubt and the breaker, one read of every input, one per batch of requests written ahead (it also
takes what the run learnt meanwhile: answers, fresh levels, mismatches; `pending.py`), one for the
positions.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.stock_targets import Listing, OpenOrderUnits, Recipe
from sync_pipeline.lib.flows.stock import mismatch
from sync_pipeline.lib.flows.stock.demand import Demand, demand_from
from sync_pipeline.lib.flows.stock.in_doubt import settle_in_doubt
from sync_pipeline.lib.flows.stock.inputs import order_units_from
from sync_pipeline.lib.flows.stock.listings import build_listings, recipes_for
from sync_pipeline.lib.flows.stock.pending import PendingWrites
from sync_pipeline.lib.flows.stock.ports import Location, Storefront
from sync_pipeline.lib.flows.stock.report import PushReport
from sync_pipeline.lib.flows.stock.snapshot import ready_and_waiting, suspect_open
from sync_pipeline.lib.flows.stock.writes import Budget, Plan, reread, write_targets
from sync_pipeline.lib.ledger import (
    ExceptionRecord,
    Ledger,
    cursors,
    stock_levels,
    stock_pushes,
    stock_snapshots,
)
from sync_pipeline.lib.ledger import catalogue as ledger_catalogue
from sync_pipeline.lib.ledger.catalogue import VariantRow
from sync_pipeline.lib.ledger.stock_levels import LevelRow, PositionRow

# A level's updatedAt has whole seconds and a change may commit a moment after its stamp.
OVERLAP = timedelta(minutes=2)
FULL_READ_CURSOR = "stock_shopify_full_read_at"


@dataclass
class Inputs:
    """Everything the ledger holds that a push needs, read in one transaction."""

    snapshot_ids: list[int]
    full: bool
    demand: Demand
    variants: list[VariantRow]
    site_totals: dict[str, int]
    open_units: list[OpenOrderUnits]
    figures: dict[tuple[str, str], int]
    complete_read: bool  # read every Shopify level, not only those updated since
    newest: dict[str, datetime | None]  # per location id: the newest level updatedAt in the copy
    copy: list[LevelRow]  # full runs: the ledger's copy of Shopify's levels (fresh reads go on top)
    affected: list[Listing]
    needed: list[Listing]


def _inputs(
    con: duckdb.DuckDBPyConnection, rules: BusinessRules, now: datetime, location_ids: dict[str, str]
) -> Inputs | None:
    snapshots = stock_snapshots.unpushed(con)
    if not snapshots:
        return None
    ids = [s.snapshot_id for s in snapshots]
    full = any(s.kind == "full" for s in snapshots)
    demand = demand_from(con, rules, now)
    variants = ledger_catalogue.stocked_variants(con)
    items = None if full else stock_snapshots.items_of(con, ids)
    if items is None:
        affected = needed = build_listings(variants, location_ids, rules, demand)
    else:
        # Listings only for the variants sharing an item with one that was read, not the whole
        # catalogue: an incremental run holds the shopify_api pool while it works.
        recipes = recipes_for({v.sku for v in variants if v.sku}, rules)
        codes = {c for v in variants if v.sku and _uses(recipes[v.sku], items) for c, _ in recipes[v.sku]}
        sharing = [v for v in variants if v.sku and _uses(recipes[v.sku], codes)]
        needed = build_listings(sharing, location_ids, rules, demand)
        affected = [lst for lst in needed if _uses(lst.recipe, items)]
    last = cursors.get(con, FULL_READ_CURSOR)
    complete = last is None or now - datetime.fromisoformat(last) > timedelta(
        hours=rules.stock.shopify_full_read_hours
    )
    return Inputs(
        snapshot_ids=ids,
        full=full,
        demand=demand,
        variants=variants,
        site_totals=stock_snapshots.accepted_site_totals(con),
        open_units=order_units_from(con, rules),
        figures=stock_snapshots.accepted_figures(
            con, None if full else {c for lst in needed for c, _ in lst.recipe}
        ),
        complete_read=complete,
        newest={loc: stock_levels.newest_shopify_update(con, loc) for loc in location_ids.values()},
        copy=stock_levels.quantities(con) if full else [],
        affected=affected,
        needed=needed,
    )


def _uses(recipe: Recipe, codes: Collection[str]) -> bool:
    return any(code in codes for code, _ in recipe)


def _read_shopify(
    storefront: Storefront, inputs: Inputs, location_ids: dict[str, str], now: datetime
) -> list[LevelRow]:
    """Full runs: the levels updated since the copy's newest (or all of them). Else: none here."""
    if not inputs.full:
        return []
    fresh: list[LevelRow] = []
    for location_id in location_ids.values():
        newest = inputs.newest.get(location_id)
        since = (
            None if inputs.complete_read or newest is None else newest.replace(tzinfo=now.tzinfo) - OVERLAP
        )
        fresh.extend(storefront.levels_updated_since(location_id, since))
    return fresh


def push(
    storefront: Storefront,
    ledger: Ledger,
    rules: BusinessRules,
    now: datetime,
    run_id: str | None = None,
    max_points: float | None = None,
    bucket_share: float | None = None,
    max_seconds: float | None = None,
) -> PushReport:
    """`bucket_share` (or `max_points`): what this run may spend of Shopify's bucket, when orders
    or fulfilments are backlogged and need the rest. `max_seconds`: an incremental run sends no
    request after this long from its start (the rest stays queued, fastest sellers having gone
    first), so it holds the `shopify_api` pool briefly; the hourly reconcile has no time limit."""
    started = time.monotonic()
    report = PushReport()
    with ledger.transaction() as con:
        doubtful = stock_pushes.in_doubt(con)
        blocked = suspect_open(con)
    # First learn what became of pushes whose answer never came (reads only): even while the feed
    # is suspect, the ledger should not keep believing a push is on its way.
    report.in_doubt = settle_in_doubt(storefront, ledger, now, doubtful)
    if blocked:
        report.mode = "blocked"
        return report
    locations: list[Location] = storefront.locations()
    location_ids, problems = mismatch.resolve_locations(locations, rules)
    with ledger.transaction() as con:
        inputs = _inputs(con, rules, now, location_ids)
    if inputs is None:
        return report
    report.mode = "full" if inputs.full else "items"
    report.snapshots = inputs.snapshot_ids
    report.peak = inputs.demand.peak
    pending = PendingWrites(ledger)
    try:
        budget = Budget(storefront, max_points, bucket_share, None if inputs.full else max_seconds, started)
        _push(storefront, ledger, rules, now, run_id, budget, inputs, locations, location_ids, problems,
              report, pending)  # fmt: skip
    finally:
        pending.flush()  # what a run that failed midway had learnt (nothing, when it finished)
    return report


def _push(
    storefront: Storefront,
    ledger: Ledger,
    rules: BusinessRules,
    now: datetime,
    run_id: str | None,
    budget: Budget,
    inputs: Inputs,
    locations: list[Location],
    location_ids: dict[str, str],
    problems: list[ExceptionRecord],
    report: PushReport,
    pending: PendingWrites,
) -> None:
    problems += mismatch.unmapped_sites(inputs.site_totals, rules)
    # Paging every level of every unfed location is a complete read's job (daily), not every hour's.
    unfed_checked = inputs.full and inputs.complete_read
    if unfed_checked:
        ours = {v.inventory_item_id for v in inputs.variants if v.inventory_item_id}
        problems += mismatch.unmapped_locations_holding_stock(
            storefront, locations, location_ids.values(), ours
        )
    fresh = _read_shopify(storefront, inputs, location_ids, now)
    plan = Plan(
        inputs.needed,
        {(lst.sku, lst.location_id) for lst in inputs.affected},
        inputs.figures,
        inputs.open_units,
        _recipes(inputs, rules),
        list(rules.routing.sites),
    )
    report.mismatches = len(problems)

    def record_reads(con: duckdb.DuckDBPyConnection) -> None:
        mismatch.record(con, problems, inputs.full, rules, unfed_checked)
        if inputs.full:
            stock_levels.upsert_levels(con, fresh, now)
            if inputs.complete_read:
                cursors.put(con, FULL_READ_CURSOR, now.isoformat())

    pending.add(record_reads)
    if inputs.full:
        plan.read(inputs.copy)
        plan.read(fresh)
    elif inputs.needed:
        reread(storefront, plan, inputs.needed, now, pending)

    targets = plan.targets()
    report.listings = len(targets)
    report.no_figure = len(inputs.affected) - len(targets)
    before = {k: plan.shown(t) for k, t in targets.items()}
    order = sorted(targets, key=lambda k: (-inputs.demand.sku_per_hour.get(k[0], 0.0), k))
    outcome = write_targets(storefront, ledger, plan, order, report, budget, now, run_id, pending)
    report.points = budget.spent
    final = plan.targets()
    report.corrections = sorted(
        ((k[0], k[1], before[k], final[k].quantity) for k, o in outcome.items() if o == "applied"),
        key=lambda c: (-abs(c[3] - (c[2] or 0)), c[0]),
    )[:25]
    left = {k for k, o in outcome.items() if o in ("deferred", "stale", "outcome_unknown")}
    with ledger.transaction() as con:
        pending.write(con)  # the last answers
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
        ready, _ = ready_and_waiting(con, rules, inputs.demand)
        report.queue_ready = len(ready)
        report.position_totals = stock_levels.position_totals(con)
        report.push_states = stock_pushes.state_counts(con)


def _recipes(inputs: Inputs, rules: BusinessRules) -> dict[str, Recipe]:
    """Each listed SKU's recipe as its listing has it; SKUs only on orders computed here."""
    recipes = {lst.sku: lst.recipe for lst in inputs.needed}
    missing = {u.sku for u in inputs.open_units} - recipes.keys()
    return {**recipes, **recipes_for(missing, rules)}
