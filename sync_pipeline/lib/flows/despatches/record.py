"""Ledger writes every fulfil step shares: settle a package, its events, its order's despatch state."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.order_state import despatch_state
from sync_pipeline.lib.flows.despatches.read import CHANGED_AFTER_SEND
from sync_pipeline.lib.ledger import OrderEvent
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import orders as ledger_orders

AWAY = "fulfilled_away_from_warehouse"


def not_made(con: duckdb.DuckDBPyConnection, package_numbers: Iterable[str], why: str) -> None:
    """Shopify holds no fulfilment of these packages after all (refused, never sent, not found after
    an unknown outcome): the `fulfilled_away_from_warehouse` each plan opened when it chose a store
    is closed, or ops would add back stock that store never lost. A later plan opens it again."""
    ledger_exceptions.resolve_for_subjects(con, [AWAY], package_numbers, f"not fulfilled there: {why}")


def take_corrected_lines(con: duckdb.DuckDBPyConnection, package_numbers: Iterable[str], why: str) -> None:
    """Shopify holds no fulfilment of these packages (never sent, refused, not found after an
    unknown outcome): lines Peoplevox corrected while they were being sent are the ones planned now,
    and their `despatch_changed_after_fulfilment` closes (until 2026-12-01 only a lookup finding
    nothing took them: a package put back unsent, or refused, went again with the old lines)."""
    taken = ledger_despatches.take_reported_items(con, package_numbers)
    ledger_exceptions.resolve_for_subjects(
        con, [CHANGED_AFTER_SEND], sorted(taken), f"{why}: planned with the lines Peoplevox reports now"
    )


def settle(
    con: duckdb.DuckDBPyConnection,
    package_number: str,
    state: str,
    reason: str,
    line_quantities: dict[str, int],
    excess: dict[str, int] | None = None,
) -> None:
    """The package is done: its blocking exceptions go, and what it accounts for is recorded (with
    the units it shipped beyond the order; `None` keeps those recorded when it went out)."""
    ledger_despatches.set_state(con, package_number, state, reason, line_quantities, excess)
    ledger_exceptions.resolve_for_subject(
        con, states.BLOCKING_KINDS, package_number, f"package {state.replace('_', ' ')}"
    )


def settle_many(con: duckdb.DuckDBPyConnection, done: list[ledger_despatches.StateChange]) -> None:
    """`settle` for many packages at once: two statements a state instead of two a package."""
    ledger_despatches.set_states(con, done)
    by_state: dict[str, list[str]] = {}
    for change in done:
        by_state.setdefault(change.state, []).append(change.package_number)
    for state, numbers in by_state.items():
        ledger_exceptions.resolve_for_subjects(
            con, states.BLOCKING_KINDS, numbers, f"package {state.replace('_', ' ')}"
        )


def refresh_order_states(
    con: duckdb.DuckDBPyConnection,
    order_ids: list[str],
    rules: BusinessRules,
    actor: str,
    counts: dict[str, int] | None = None,
) -> None:
    """Recompute each order's despatch state from its packages; an event for every change."""
    rows = ledger_orders.get_many(con, order_ids)
    packages = ledger_despatches.for_orders(con, order_ids)
    before = ledger_despatches.despatch_states(con, order_ids)
    events = []
    changed: dict[str, str] = {}  # set in one statement below
    for oid in order_ids:
        row = rows.get(oid)
        if row is None or not row.snapshot:
            continue
        order = ShopOrder.model_validate(row.snapshot)
        new = despatch_state(order, packages.get(oid, []), rules)
        if new != before.get(oid):
            changed[oid] = new
            events.append(
                OrderEvent(
                    oid, "despatch_state", actor, reason=f"{before.get(oid) or 'in_warehouse'} → {new}"
                )
            )
            if counts is not None:
                counts[new] = counts.get(new, 0) + 1
    ledger_despatches.set_despatch_states(con, changed)
    ledger_events.append(con, events)
