"""Move: bring a package's lines to one location before it is fulfilled (`fulfillmentOrderMove`).

Shopify fulfils one location per fulfilment. When a package's lines sit on fulfilment orders at two
locations and those elsewhere can be moved (`MOVE` in their `supportedActions`), the plan says which
line items to move to the warehouse's location (`domain.fulfilment.gather`); this step moves them and
says which orders to plan again from the fulfilment orders Shopify then shows (a partial move gives
new line item ids), so the package still goes as one fulfilment, one email. A later package of the
same order that needs a move of its own gets it in the next pass of the same run (`fulfil.py`).
A package wholly at one location that is not the warehouse's is moved the same way (the warehouse
shipped it; fulfilled at a store, the store's stock would go down).

Write-ahead: the package is `moving` (with an event) before the call. A move has no idempotency
key, and a second one of lines already moved is refused, so a move whose answer is lost is not sent
again blind: the package stays `moving` and its order is left alone for `settle_seconds` (a request
still in flight must not be taken for one never received); then the order is planned from the
fulfilment orders as Shopify has them: lines that moved are fulfilled, lines that did not are moved.
A move fulfils nothing, so it can never cause a second fulfilment or email; the fulfilment itself
goes through the usual write-ahead. A refused move leaves a package at two locations `blocked` with
`fulfillment_order_closed` and Shopify's reason (an order event each time); one wholly at another
location is fulfilled there instead, with `fulfilled_away_from_warehouse`. A blocked package is
re-planned every run, but its move is tried again only `move_retry_minutes` (despatches.yaml) after
the last refusal: a cause Shopify keeps refusing for while still offering MOVE (an item the
destination does not stock) is CX's to fix, not worth a mutation and an event every run.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import duckdb

from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.decision import Decision, fulfil_away, package_exception
from sync_pipeline.lib.flows.despatches.ports import (
    FulfilmentNotSentError,
    FulfilmentOutcomeUnknownError,
    FulfilmentRefusedError,
    Storefront,
)
from sync_pipeline.lib.flows.despatches.report import FulfilReport
from sync_pipeline.lib.ledger import Ledger, OrderEvent, utcnow
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger.despatches import PackageRow

REFUSED = "fulfilment_order_move_refused"


def moved_recently(packages: list[PackageRow], cutoff: datetime) -> bool:
    """A move of one of these packages may still be in flight at Shopify: leave the order alone."""
    return any(p.state == states.MOVING and p.updated_at > cutoff for p in packages)


def move_cutoff(now: datetime, settle_seconds: float) -> datetime:
    return now - timedelta(seconds=settle_seconds)


def move_lines(
    storefront: Storefront,
    ledger: Ledger,
    plans: dict[str, list[Decision]],
    orders: dict[str, ShopOrder],
    packages: dict[str, list[PackageRow]],
    retry_after: timedelta,
    actor: str,
    report: FulfilReport,
    deadline: float | None = None,
) -> list[str]:
    """Carry out the moves `plans` ask for; returns the orders whose moves all went through (plan
    them again). In the others' plans a refused move becomes `blocked` with an exception; a lost
    answer stays `moving`. `packages` is updated with the rows as written ahead. Each move is written
    ahead just before its call; none starts after `deadline` (time.monotonic()) but the first."""
    wanted = {oid: d for oid, ds in plans.items() for d in ds if d.state == states.MOVING}
    if not wanted:
        return []
    with ledger.transaction() as con:
        # An order another run moved on since we read it is left to that run (and dropped by the
        # write-ahead's own check): never two runs moving one package.
        taken = ledger_despatches.orders_changed_since(con, {oid: packages.get(oid, []) for oid in wanted})
        wanted = {oid: d for oid, d in wanted.items() if oid not in taken}
        for oid, why in _refused_lately(con, wanted, retry_after).items():
            d = wanted.pop(oid)
            _replace(
                plans[oid],
                d,
                _refused(d, orders[oid], _package(packages, oid, d), f"{why} (tried again later)"),
            )
    done: list[str] = []
    refusals: list[OrderEvent] = []
    for index, (oid, d) in enumerate(wanted.items()):
        # The run's time budget bounds moves as it bounds fulfilments (the first always goes).
        if index and deadline is not None and time.monotonic() >= deadline:
            _replace(plans[oid], d, Decision(d.package_number, states.PENDING,
                                             "move left for the next run (time budget)", exceptions=d.exceptions))  # fmt: skip
            report.moves["left_for_next_run"] += 1
            continue
        if not _write_ahead(ledger, oid, d, packages, actor):
            continue  # another run took the order since: the fulfil write-ahead drops it too
        try:
            for m in d.moves:
                storefront.move_lines(m)
        except FulfilmentRefusedError as error:
            report.moves["refused"] += 1
            _replace(plans[oid], d, _refused(d, orders[oid], _package(packages, oid, d), str(error)))
            refusals.append(OrderEvent(oid, REFUSED, actor, reason=f"{d.package_number}: {error}",
                                       detail={"package": d.package_number, "why": str(error)}))  # fmt: skip
        except FulfilmentOutcomeUnknownError:
            report.moves["outcome_unknown"] += 1
        except FulfilmentNotSentError as error:
            # Certainly not run (throttled until the client gave up): nothing in flight to wait
            # for, so `pending` (the fulfil write-ahead writes it) and the next run at once.
            report.moves["not_sent"] += 1
            report.left_for_next_run += 1
            _replace(plans[oid], d, Decision(d.package_number, states.PENDING,
                                             f"move left for the next run (Shopify did not take it: {error})",
                                             exceptions=d.exceptions))  # fmt: skip
        else:
            report.moves["moved"] += 1
            done.append(oid)
    if refusals:
        with ledger.transaction() as con:
            ledger_events.append(con, refusals)
    return done


def _write_ahead(
    ledger: Ledger, oid: str, d: Decision, packages: dict[str, list[PackageRow]], actor: str
) -> bool:
    """The package `moving` (with an event) just before its call, if nobody moved the order on since
    we read it; `packages` gets the rows as written (so the fulfil write-ahead's check knows them)."""
    with ledger.transaction() as con:
        if ledger_despatches.orders_changed_since(con, {oid: packages.get(oid, [])}):
            return False
        ledger_despatches.set_state(con, d.package_number, states.MOVING, d.reason)
        packages.update(ledger_despatches.for_orders(con, [oid]))
        ledger_events.append(
            con,
            [OrderEvent(oid, "fulfilment_order_move", actor, reason=f"{d.package_number}: {d.reason}",
                        detail={"moves": [{"fulfillment_order": m.fulfillment_order_id, "to": m.location_id,
                                           "lines": m.lines} for m in d.moves]})],
        )  # fmt: skip
    return True


def _package(packages: dict[str, list[PackageRow]], oid: str, d: Decision) -> PackageRow:
    return next(p for p in packages[oid] if p.package_number == d.package_number)


def _refused_lately(
    con: duckdb.DuckDBPyConnection, wanted: dict[str, Decision], retry_after: timedelta
) -> dict[str, str]:
    """Orders whose package's move Shopify refused less than `retry_after` ago: Shopify's reason."""
    found: dict[str, str] = {}
    for oid, detail in ledger_events.details_since(con, REFUSED, list(wanted), utcnow() - retry_after):
        if detail.get("package") == wanted[oid].package_number:
            found[oid] = str(detail.get("why", ""))
    return found


def _replace(decisions: list[Decision], old: Decision, new: Decision) -> None:
    decisions[decisions.index(old)] = new


def _refused(d: Decision, order: ShopOrder, package: PackageRow, why: str) -> Decision:
    if d.instead is not None:  # it can go as one fulfilment where it is
        return fulfil_away(d.instead, order, package, f"Shopify refused the move: {why}")
    problem = package_exception(
        "fulfillment_order_closed",
        f"{order.name}: package {d.package_number} sits at two locations and Shopify refused to move its "
        f"lines to one: {why}; move that fulfilment order by hand (or fulfil it by hand)",
        order,
        package,
    )
    # The plan's other findings (unknown carrier, tracking missing, over-despatch) still hold.
    return Decision(
        d.package_number, states.BLOCKED, "fulfillment_order_closed", exceptions=[*d.exceptions, problem]
    )


def still_moving(decisions: list[Decision]) -> list[Decision]:
    """After the last move pass of a run, a package that would still move waits for the next run
    (`pending`; nothing was sent for it)."""
    return [
        Decision(d.package_number, states.PENDING, "moved to one location; planned again next run",
                 exceptions=d.exceptions)
        if d.state == states.MOVING
        else d
        for d in decisions
    ]  # fmt: skip
