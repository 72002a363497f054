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

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.stock_priority import bucket_has_room, is_quiet, order_pushes, quiet_first
from sync_pipeline.lib.domain.stock_targets import Listing, OpenOrderUnits, Recipe, Target, sku_of_key
from sync_pipeline.lib.flows.stock import mismatch, untracked, writes
from sync_pipeline.lib.flows.stock.demand import Demand, demand_from
from sync_pipeline.lib.flows.stock.in_doubt import settle_in_doubt
from sync_pipeline.lib.flows.stock.inputs import order_units_from
from sync_pipeline.lib.flows.stock.listings import build_listings, recipes_for
from sync_pipeline.lib.flows.stock.pending import PendingWrites
from sync_pipeline.lib.flows.stock.plan import Budget, Plan, reread
from sync_pipeline.lib.flows.stock.ports import Storefront
from sync_pipeline.lib.flows.stock.prepare import (
    FULL_READ_CURSOR,
    Catalogue,
    Prepared,
    read_catalogue,
    read_shopify,
    unfed_problems,
    updated_while_reading,
)
from sync_pipeline.lib.flows.stock.report import PushReport
from sync_pipeline.lib.flows.stock.snapshot import suspect_open
from sync_pipeline.lib.flows.stock.writes import write_targets
from sync_pipeline.lib.ledger import (
    ExceptionRecord,
    Ledger,
    cursors,
    stock_levels,
    stock_pushes,
    stock_snapshots,
)
from sync_pipeline.lib.ledger import catalogue as ledger_catalogue
from sync_pipeline.lib.ledger.stock_levels import LevelRow, PositionRow


@dataclass
class Inputs:
    """Everything the ledger holds that a push needs, read in one transaction."""

    snapshot_ids: list[int]
    full: bool
    demand: Demand
    site_totals: dict[str, int]
    open_units: list[OpenOrderUnits]
    figures: dict[tuple[str, str], int]
    versions: dict[tuple[str, str], int]  # the snapshot each figure came from
    catalogue: Catalogue | None  # full runs: every listing, the ledger's copy of Shopify's levels
    affected: list[Listing]
    needed: list[Listing]


def _inputs(
    con: duckdb.DuckDBPyConnection,
    rules: BusinessRules,
    now: datetime,
    location_ids: dict[str, str],
    catalogue: Catalogue | None = None,
) -> Inputs | None:
    """`catalogue`: a full push's, read while Peoplevox was (`prepare.py`); else read here."""
    snapshots = stock_snapshots.unpushed(con)
    if not snapshots:
        return None
    ids = [s.snapshot_id for s in snapshots]
    full = any(s.kind == "full" for s in snapshots)
    if full:
        catalogue = catalogue or read_catalogue(con, rules, now, location_ids)
        demand = catalogue.demand
        affected = needed = catalogue.listings
    else:
        catalogue = None
        demand = demand_from(con, rules, now)
        variants = ledger_catalogue.stocked_variants(con)
        items = stock_snapshots.items_of(con, ids)
        # Listings only for the variants sharing an item with one that was read, not the whole
        # catalogue: an incremental run holds the shopify_stock pool while it works.
        recipes = recipes_for({v.sku for v in variants if v.sku}, rules)
        codes = {c for v in variants if v.sku and _uses(recipes[v.sku], items) for c, _ in recipes[v.sku]}
        sharing = [v for v in variants if v.sku and _uses(recipes[v.sku], codes)]
        needed = build_listings(sharing, location_ids, rules, demand)
        affected = [lst for lst in needed if _uses(lst.recipe, items)]
    codes_needed = None if full else {c for lst in needed for c, _ in lst.recipe}
    return Inputs(
        snapshot_ids=ids,
        full=full,
        demand=demand,
        site_totals=stock_snapshots.accepted_site_totals(con),
        open_units=order_units_from(con, rules, stock_snapshots.read_times(con, codes_needed)),
        figures=stock_snapshots.accepted_figures(con, codes_needed),
        versions=stock_snapshots.accepted_versions(con, codes_needed),
        catalogue=catalogue,
        affected=affected,
        needed=needed,
    )


def _uses(recipe: Recipe, codes: Collection[str]) -> bool:
    return any(code in codes for code, _ in recipe)


def push(
    storefront: Storefront,
    ledger: Ledger,
    rules: BusinessRules,
    now: datetime,
    run_id: str | None = None,
    max_points: float | None = None,
    bucket_share: float | None = None,
    max_seconds: float | None = None,
    prepared: Prepared | None = None,
) -> PushReport:
    """`prepared`: a full push's inputs read while Peoplevox was (`reconcile.py`).
    `bucket_share` (or `max_points`): what this run may spend of Shopify's bucket, when orders
    or fulfilments are backlogged and need the rest (given: they are; in peak mode a slow seller's
    push then waits while the bucket has no room, `stock_priority.waits_for_room`). `max_seconds`: an incremental run sends no
    request after this long from its first request (the rest stays queued, quiet rows and fastest
    sellers having gone first), so it holds the `shopify_stock` pool briefly; the clock starts at the
    first request, not here, so the reads before it cannot use it up (`Budget`); the hourly
    reconcile has no time limit."""
    report = PushReport()
    with ledger.transaction() as con:
        # Only rows older than the settle age: a younger one may be another run's push, still out.
        settled_before = now - timedelta(seconds=rules.stock.unknown_outcome_settle_seconds)
        doubtful = stock_pushes.in_doubt(con, settled_before)
        blocked = suspect_open(con)
    # First learn what became of pushes whose answer never came (reads only): even while the feed
    # is suspect, the ledger should not keep believing a push is on its way.
    report.in_doubt, read_back = settle_in_doubt(storefront, ledger, now, doubtful)
    if blocked:
        report.mode = "blocked"
        return report
    if prepared:
        locations, location_ids, problems = prepared.locations, prepared.location_ids, list(prepared.problems)
    else:
        locations = storefront.locations()
        location_ids, problems = mismatch.resolve_locations(locations, rules)
    with ledger.transaction() as con:
        inputs = _inputs(con, rules, now, location_ids, prepared.catalogue if prepared else None)
        if inputs is None:
            # Nothing new to push (a run in flight beside this one took the snapshot, or nothing was
            # read), but items may still be queued: that other run's leftovers, hints since. Counted,
            # or this run says `caught_up` with nothing queued and the sensor's backlog check
            # (`inbox_sensors.backlogged`) believes it: no run starts for the queue until a callback.
            # Items waiting for room count too (which they are is not kept): the next run reads them
            # and says they wait, so this costs one run, not a spin.
            report.queue_ready = len(stock_snapshots.dirty(con))
    if inputs is None:
        return report
    was_prepared = prepared is not None and inputs.catalogue is prepared.catalogue
    report.prepared = was_prepared
    if was_prepared and prepared is not None and prepared.fresh is not None and prepared.unfed is not None:
        problems += prepared.unfed
        fresh = updated_while_reading(storefront, prepared, read_back)
    elif inputs.catalogue is not None:
        problems += unfed_problems(storefront, locations, location_ids, inputs.catalogue)
        fresh = read_shopify(storefront, inputs.catalogue, location_ids, now)
    else:
        fresh = []
    report.mode = "full" if inputs.full else "items"
    report.snapshots = inputs.snapshot_ids
    report.peak = inputs.demand.peak
    pending = PendingWrites(ledger)
    try:
        budget = Budget(storefront, max_points, bucket_share, None if inputs.full else max_seconds)
        _push(storefront, ledger, rules, now, run_id, budget, inputs, fresh, problems, report, pending)
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
    fresh: list[LevelRow],
    problems: list[ExceptionRecord],
    report: PushReport,
    pending: PendingWrites,
) -> None:
    """`fresh`: full runs, the levels Shopify updated since the copy's newest; `problems` holds the
    unfed locations when this was a complete read."""
    problems += mismatch.unmapped_sites(inputs.site_totals, rules)
    unfed_checked = inputs.catalogue is not None and inputs.catalogue.complete_read
    plan = Plan(
        inputs.needed,
        {(lst.sku, lst.location_id) for lst in inputs.affected},
        inputs.figures,
        inputs.open_units,
        _recipes(inputs, rules),
        list(rules.routing.sites),
        inputs.versions,
    )
    report.mismatches = len(problems)

    catalogue = inputs.catalogue
    not_tracked: list[ExceptionRecord] = []
    if catalogue is not None:
        report.untracked = len(catalogue.untracked)
        not_tracked = untracked.untracked_problems(catalogue.untracked, catalogue.item_codes, rules)
        report.untracked_stocked = len(not_tracked)

    def record_reads(con: duckdb.DuckDBPyConnection) -> None:
        mismatch.record(con, problems, inputs.full, rules, unfed_checked)
        if catalogue is not None:
            untracked.record(con, catalogue.untracked, not_tracked)
        if inputs.full:
            stock_levels.upsert_levels(con, fresh, now)
            if unfed_checked:
                cursors.put(con, FULL_READ_CURSOR, now.isoformat())

    pending.add(record_reads)
    if inputs.catalogue is not None:
        plan.read(inputs.catalogue.copy)
        plan.read(fresh)
    elif inputs.needed:
        reread(storefront, plan, inputs.needed, now, pending)

    targets = plan.targets()
    report.listings = len(targets)
    report.no_figure = len(inputs.affected) - len(targets)
    before = {k: plan.shown(t) for k, t in targets.items()}
    quiet, moving, waiting = _order(storefront, rules, budget, inputs, plan, targets, before)
    report.quiet = len(quiet)
    outcome = write_targets(
        storefront, ledger, plan, quiet + moving, report, budget, now, run_id, pending, set(quiet)
    )
    outcome.update(dict.fromkeys(waiting, "waiting"))
    report.waiting = len(waiting)
    report.points = budget.spent
    final = plan.targets()
    report.corrections = sorted(
        ((k[0], k[1], before[k], final[k].quantity) for k, o in outcome.items() if o == "applied"),
        key=lambda c: (-abs(c[3] - (c[2] or 0)), c[0]),
    )[:25]
    left = {k for k, o in outcome.items() if o in ("deferred", "stale", "outcome_unknown")}
    left_items = {c for k in left for c, _ in targets[k].listing.recipe}
    waiting_items = {c for k in waiting for c, _ in targets[k].listing.recipe} - left_items
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
                # A newer read's run publishes those: this run's older target would look like drift.
                if outcome.get((sku, loc)) != "superseded"
            ],
        )  # fmt: skip
        # What this run could not finish goes back in the queue: the next run re-reads and pushes it.
        # Slow sellers waiting for room go back too, but do not make the sensor start the next run at
        # once (`queue_ready`): a run that finds room (any callback starts one) or the reconcile takes them.
        stock_snapshots.hint(con, dict.fromkeys(left_items | waiting_items, 1), now)
        stock_snapshots.mark_pushed(con, report.snapshots, now)
        report.queue_ready = len(set(stock_snapshots.dirty(con)) - waiting_items)
        report.position_totals = stock_levels.position_totals(con)
        report.push_states = stock_pushes.state_counts(con)


def _order(
    storefront: Storefront,
    rules: BusinessRules,
    budget: Budget,
    inputs: Inputs,
    plan: Plan,
    targets: dict[tuple[str, str], Target],
    shown: dict[tuple[str, str], int | None],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """(the quiet pushes, sent first in requests of their own; the moving ones, fastest sellers
    first; the slow sellers' that wait for room: `stock_priority.quiet_first`). The hourly reconcile
    is the safety net: it never leaves anything waiting."""
    differing = [k for k, t in targets.items() if shown[k] != t.quantity]
    # Shopify unknown (None) counts as lowering: nothing that might close an oversell window waits.
    lowering = {k for k in differing if (s := shown[k]) is None or targets[k].quantity < s}
    peak_on = inputs.demand.peak and not inputs.full
    room = bucket_has_room(
        storefront.bucket_available(), storefront.bucket_size(), rules.stock.backlogged_bucket_share
    )
    go, waiting = order_pushes(
        differing,
        inputs.demand.sku_per_hour,
        lowering,
        rules.stock_buffers.peak,
        peak_on,
        budget.backlogged,
        room,
    )
    open_units: dict[str, int] = {}
    for units in inputs.open_units:
        open_units[units.sku] = open_units.get(units.sku, 0) + units.units
    quiet: set[tuple[str, str]] = set()
    for key in differing:
        listing, sku = targets[key].listing, sku_of_key(key[0])
        level = plan.levels.get((listing.inventory_item_id, listing.location_id))
        velocity = inputs.demand.sku_per_hour.get(sku, 0.0)
        items = (inputs.demand.item_per_hour.get(code, 0.0) for code, _ in listing.recipe)
        if is_quiet(velocity, items, open_units.get(sku, 0), level.committed if level else None):
            quiet.add(key)
    # The quiet rows ride in the first request while it has room; none when no request will go (the
    # run's points are spent already): then the slow sellers among them wait, as the rule says.
    first = 0 if budget.exhausted(sent_any=False) else writes.MAX_INPUT
    return quiet_first(go, waiting, quiet, first)


def _recipes(inputs: Inputs, rules: BusinessRules) -> dict[str, Recipe]:
    """Each listed SKU's recipe as its listing has it; SKUs only on orders computed here."""
    recipes = {lst.sku: lst.recipe for lst in inputs.needed}
    missing = {u.sku for u in inputs.open_units} - recipes.keys()
    return {**recipes, **recipes_for(missing, rules)}
