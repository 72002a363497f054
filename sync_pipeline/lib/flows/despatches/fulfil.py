"""Fulfil: open packages → one Shopify fulfilment each, written ahead so none is created twice.

Per batch of orders (sized to what the run can still send before its deadline: `batch_orders`):
one ledger read, one Shopify read of their fulfilment orders (and, once a run,
of the shop's locations: `locations.py`), the pure plan, the moves to the warehouse's location a
package needs (`move.py`; those orders are read and planned again), then in one transaction the
intents (`sending`) and every other verdict, then the calls (`answers.py`: in parallel across
orders, one transaction a wave of orders for its claims and the wave before's answers). No ledger
connection is held across a call.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime, timedelta
from typing import Protocol

import duckdb

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.answers import Sent, send_all
from sync_pipeline.lib.flows.despatches.decision import Decision
from sync_pipeline.lib.flows.despatches.locations import read_warehouse_locations
from sync_pipeline.lib.flows.despatches.move import move_cutoff, move_lines, moved_recently, still_moving
from sync_pipeline.lib.flows.despatches.plan import EDIT_NOT_READ, WAITS_FOR_LEDGER, plan_order
from sync_pipeline.lib.flows.despatches.ports import OrderFulfilments, ShopifyNotReadError, Storefront
from sync_pipeline.lib.flows.despatches.record import refresh_order_states, settle_many
from sync_pipeline.lib.flows.despatches.report import FulfilReport
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, OrderEvent, utcnow
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import fulfilments as ledger_fulfilments
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.despatches import PackageRow
from sync_pipeline.lib.ledger.fulfilments import FulfilmentIntent

log = logging.getLogger(__name__)


class RunOnLike(Protocol):
    """`run.RunOn`: the deadline to keep to, and whether to hand the pool over now."""

    def __call__(self, deadline: float) -> float: ...

    def hand_over(self) -> bool: ...


BATCH_ORDERS = 200
# A run's first batch: a few orders for each sender. Later batches are what this run's own send rate
# says it can send before its deadline, with a margin (`batch_orders`): an order read and planned
# but not sent is read again next run, at the full price of the fulfilment-state read (~11 points
# an order), which is what doubled the read's points per package at a peak (session 7).
FIRST_BATCH_PER_SENDER = 4
BATCH_MARGIN = 1.25
# Move passes per batch: one per package of an order that sits at two locations, in turn.
MOVE_PASSES = 4


def batch_orders(done: int, elapsed: float, remaining: float, concurrency: int) -> int:
    """How many orders to read and plan next: `done` orders planned (and sent, or settled without a
    send) in `elapsed` seconds so far this run, `remaining` seconds to the deadline."""
    if done <= 0 or elapsed <= 0:
        return min(BATCH_ORDERS, max(1, concurrency) * FIRST_BATCH_PER_SENDER)
    room = max(remaining, 0.0) * BATCH_MARGIN
    rate = done / elapsed  # capped before rounding: over a tiny `elapsed` it is huge, even infinite
    wanted = 0 if room == 0 else BATCH_ORDERS if rate * room >= BATCH_ORDERS else math.ceil(rate * room)
    return max(max(1, concurrency), min(BATCH_ORDERS, wanted))


def _plan(
    orders: dict[str, ShopOrder],
    packages: dict[str, list[PackageRow]],
    shopify: dict[str, OrderFulfilments],
    rules: BusinessRules,
    warehouses: dict[str, str],
) -> dict[str, list[Decision]]:
    now = utcnow()
    return {
        oid: plan_order(order, packages.get(oid, []), shopify.get(oid), rules, now, warehouses)
        for oid, order in orders.items()
    }


def _move_first(
    storefront: Storefront,
    ledger: Ledger,
    plans: dict[str, list[Decision]],
    orders: dict[str, ShopOrder],
    packages: dict[str, list[PackageRow]],
    shopify: dict[str, OrderFulfilments],
    rules: BusinessRules,
    warehouses: dict[str, str],
    actor: str,
    report: FulfilReport,
    deadline: float,
) -> None:
    """Moves first: each order whose moves went through is read and planned again (a partial move
    makes new ids), and a later package of it that needs a move of its own gets it in the same run.
    Each pass sees only the orders just planned again, so a move whose answer was lost (still
    `moving` in its plan) is never sent twice."""
    wanting = plans
    retry_after = timedelta(minutes=rules.despatches.move_retry_minutes)
    for _ in range(MOVE_PASSES):
        moved = move_lines(
            storefront, ledger, wanting, orders, packages, retry_after, actor, report, deadline
        )
        if not moved:
            return
        try:
            again = storefront.fulfilment_state(moved, retry_until=deadline)
        except ShopifyNotReadError as error:
            # The moves went; what they made is unknown: these orders write nothing this run (their
            # plan predates the move) and are planned again once the move has settled.
            for oid in moved:
                plans.pop(oid, None)
            _not_read(report, moved, error)
            return
        for oid in moved:
            shopify.pop(oid, None)
        shopify.update(again)
        wanting = _plan({oid: orders[oid] for oid in moved}, packages, again, rules, warehouses)
        plans.update(wanting)
    # Out of passes: what would move again waits for the next run (nothing was sent for it).
    plans.update({oid: still_moving(ds) for oid, ds in wanting.items()})


def fulfil_open_packages(
    storefront: Storefront,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    report: FulfilReport,
    deadline: float,
    settle_seconds: float = 60.0,
    run_on: RunOnLike | None = None,
) -> float:
    """Plan and fulfil batch after batch until every open package has been tried once this run
    (packages a concurrent read adds meanwhile included), or `deadline` (time.monotonic()) has
    passed: then no new order is started (the first batch always goes), and what was written ahead
    and not sent goes back to `pending`. A package whose lines sit elsewhere than the warehouse's
    location is moved there first (`move.py`) and planned again.

    `run_on(deadline)` is asked before each batch and when the deadline has passed: the deadline to
    keep to from then on (`run.py`: a run-on step ahead while no other step waits for the pool); and
    `run_on.hand_over()` between waves and batches, after the first batch: True ends the step there
    (another step waits and this one has had its budget). Returns the deadline the step kept to."""
    tried: set[str] = set()
    started = time.monotonic()
    concurrency = rules.despatches.fulfil_concurrency
    warehouses: dict[str, str] | None = None  # read once, when there is something to plan
    report.caught_up = False
    while True:
        if run_on is not None:
            if tried and run_on.hand_over():
                return min(deadline, time.monotonic())  # caught_up stays False
            deadline = run_on(deadline)
        with ledger.transaction() as con:
            candidates = ledger_despatches.open_packages(
                con, states.OPEN, limit=BATCH_ORDERS * 4 + len(tried)
            )
            now = time.monotonic()
            done = report.orders_planned - report.left_for_next_run
            size = batch_orders(done, now - started, deadline - now, concurrency)
            order_ids = list(dict.fromkeys(o for o, n in candidates if n not in tried))[:size]
            if not order_ids:
                report.caught_up = True
                return deadline
            rows = ledger_orders.get_many(con, order_ids)
            packages = ledger_despatches.for_orders(con, order_ids)
            in_doubt = ledger_fulfilments.orders_in_state(con, "sending", order_ids)
        tried.update(
            p.package_number for oid in order_ids for p in packages.get(oid, []) if p.state in states.OPEN
        )
        cutoff = move_cutoff(utcnow(), settle_seconds)
        ready = [
            o
            for o in order_ids
            if o not in in_doubt
            and rows.get(o)
            and rows[o].snapshot
            and not moved_recently(packages.get(o, []), cutoff)
        ]
        orders = {oid: ShopOrder.model_validate(rows[oid].snapshot) for oid in ready}
        try:
            if ready and warehouses is None:
                warehouses = read_warehouse_locations(storefront, ledger, rules, report)
            shopify = storefront.fulfilment_state(ready, retry_until=deadline) if ready else {}
        except ShopifyNotReadError as error:
            # Throttled until the client gave up (the bucket shared with the finance read at a peak):
            # nothing was written ahead for these orders; the next run, started at once, reads them.
            # Until 2026-12-01 this raised out of the step and Dagster retried the whole step.
            _not_read(report, ready, error)
            return deadline
        plans = _plan(orders, packages, shopify, rules, warehouses or {})
        _move_first(
            storefront,
            ledger,
            plans,
            orders,
            packages,
            shopify,
            rules,
            warehouses or {},
            actor,
            report,
            deadline,
        )
        report.orders_planned += len(plans)
        versions = {oid: state.version for oid, state in shopify.items()}
        to_send = _write_ahead(ledger, plans, packages, versions, rules, actor, report)
        put_back = send_all(
            storefront, ledger, to_send, rules, actor, report, deadline, settle_seconds,
            stop=run_on.hand_over if run_on is not None else None,
        )  # fmt: skip
        if run_on is not None and run_on.hand_over():
            return min(deadline, time.monotonic())  # caught_up stays False: the waiting step goes on
        if time.monotonic() < deadline:
            continue
        later = run_on(deadline) if run_on is not None else deadline
        if later <= time.monotonic():
            return deadline  # caught_up stays False: the sensor starts the next run at once
        # Running on after all: what the budget put back is this run's to send again.
        deadline = later
        tried -= put_back
        report.left_for_next_run -= len(put_back)


def _not_read(report: FulfilReport, order_ids: list[str], error: ShopifyNotReadError) -> None:
    report.orders_not_read += len(order_ids)
    report.caught_up = False
    log.warning("Shopify throttled the read of %d orders until the client gave up; left for the "
                "next run: %s", len(order_ids), error)  # fmt: skip


ON_HOLD = "fulfillment_on_hold"


def _close_what_no_longer_holds(con: duckdb.DuckDBPyConnection, decisions: list[Decision]) -> None:
    """Exceptions that stopped a package and that its plan no longer gives, closed now rather than
    when it settles, which a cancelled order's package never does (until 2026-12-01 they stayed
    open for good: the integration owner chasing an edit, CX a hold, for a cancelled order):
    `order_edit_not_read` once it no longer waits for the orders flow; `fulfillment_on_hold` once it
    can go or its order is cancelled (a held package without its tracking number yet is decided
    before its hold is looked at, so that alone does not close it)."""
    cancelled = {
        d.package_number for d in decisions if any(e.kind == "shipped_after_cancel" for e in d.exceptions)
    }
    ledger_exceptions.resolve_for_subjects(
        con,
        [EDIT_NOT_READ],
        [d.package_number for d in decisions if not d.reason.startswith(WAITS_FOR_LEDGER)],
        "the package no longer waits for the orders flow",
    )
    ledger_exceptions.resolve_for_subjects(
        con,
        [ON_HOLD],
        [d.package_number for d in decisions if d.state in (states.FULFILLING, states.MOVING)]
        + sorted(cancelled),
        "the package is no longer held back by the hold",
    )


def _write_ahead(
    ledger: Ledger,
    plans: dict[str, list[Decision]],
    packages: dict[str, list[PackageRow]],
    versions: dict[str, datetime | None],
    rules: BusinessRules,
    actor: str,
    report: FulfilReport,
) -> list[Sent]:
    notify = rules.despatches.notify_customer
    sends: list[Sent] = []
    with ledger.transaction() as con:
        # Compare and set: an order another run moved on since we read it is that run's now (two
        # fulfil steps at once, e.g. with the shopify_fulfil pool raised, must not both send it).
        taken = ledger_despatches.orders_changed_since(con, {oid: packages.get(oid, []) for oid in plans})
        plans = {oid: ds for oid, ds in plans.items() if oid not in taken}
        report.left_to_another_run += len(taken)
        problems: list[ExceptionRecord] = []
        events: list[OrderEvent] = []
        # Set in a statement or two below, not one a package.
        changes: list[ledger_despatches.StateChange] = []
        settled: list[ledger_despatches.StateChange] = []
        carried: list[tuple[str, str, str | None]] = []  # pooled parcels' numbers these sends carry
        for oid, decisions in plans.items():
            for d in decisions:
                problems.extend(d.exceptions)
                if d.state == states.FULFILLING:
                    t = d.tracking
                    intent = FulfilmentIntent(
                        d.package_number, oid, d.location_id, d.request, d.placed,
                        t.number if t else None, t.company if t else None, t.url if t else None, notify,
                    )  # fmt: skip
                    sends.append(Sent(d, oid, intent, versions.get(oid)))
                    carried.extend((pooled, d.package_number, n) for pooled, n in d.carries)
                    # Accounted units go on the package now; a lookup that finds nothing clears them.
                    changes.append(
                        ledger_despatches.StateChange(
                            d.package_number, states.FULFILLING, d.reason, d.line_quantities, d.excess
                        )
                    )
                elif d.state in states.SETTLED:
                    settled.append(
                        ledger_despatches.StateChange(
                            d.package_number, d.state, d.reason, d.line_quantities, d.excess
                        )
                    )
                    if d.state == states.FULFILLED_ELSEWHERE:
                        report.fulfilled_elsewhere += 1
                        events.append(OrderEvent(oid, "fulfilled_elsewhere", actor,
                                                 reason=f"{d.package_number}: already fulfilled in Shopify by hand"))  # fmt: skip
                    else:
                        report.pooled += 1
                else:
                    changes.append(ledger_despatches.StateChange(d.package_number, d.state, d.reason))
                    report.blocked += d.state == states.BLOCKED
                    report.awaiting_tracking += d.state == states.AWAITING_TRACKING
        _close_what_no_longer_holds(con, [d for ds in plans.values() for d in ds])
        settle_many(con, settled)
        ledger_despatches.set_states(con, changes)
        ledger_despatches.carry(con, carried)
        report.exceptions_opened += ledger_exceptions.open_or_touch(con, problems)
        ledger_fulfilments.mark_sending(con, [s.intent for s in sends], run_id=actor)
        ledger_events.append(con, events)
        # Orders with something in flight are refreshed when Shopify answers (`_record`).
        sending = {s.order_id for s in sends}
        refresh_order_states(
            con, [oid for oid in plans if oid not in sending], rules, actor, report.order_states
        )
    return sends
