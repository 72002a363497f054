"""A fulfil step's ledger statements do not grow with its packages: the write-ahead, the answers
(compare-and-set on the run's claim), the settles, the orders' despatch states and the events go
a batch or a wave at a time. One statement a package held the step's one ledger thread, which
bound a step at a peak (session 8's profile: `mark_sending`, `mark_created`, despatch states)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest

from sync_pipeline.lib.flows.despatches import answers, states
from sync_pipeline.lib.flows.despatches.read import read_despatches
from sync_pipeline.lib.flows.despatches.report import FulfilReport
from sync_pipeline.lib.flows.despatches.run import fulfil
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import UK, despatch_rules, into_warehouse, ports
from sync_pipeline_tests.orders.conftest import Stack


class _Counting:
    """A DuckDB connection that counts the statements run on it (`executemany`: one a row)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, counted: list[int]) -> None:
        self._con, self._counted = con, counted

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._counted[0] += 1
        return self._con.execute(*args, **kwargs)

    def executemany(self, query: str, rows: Any = None, *args: Any, **kwargs: Any) -> Any:
        self._counted[0] += len(rows) if rows is not None else 1
        return self._con.executemany(query, rows, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _one_step(stack: Stack, orders: int) -> tuple[int, FulfilReport]:
    """`orders` new one-package orders despatched, then one fulfil step: its ledger statements."""
    placed = [
        stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))["id"]
        for _ in range(orders)
    ]
    numbers = into_warehouse(stack)
    for oid in placed:
        stack.pvx.despatch(numbers[oid], [{"CAP-NVY": 1}])
    read_despatches(ports(stack).source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2))
    counted = [0]
    plain = stack.ledger.transaction

    @contextmanager
    def counting() -> Iterator[Any]:
        with plain() as con:
            yield _Counting(con, counted)

    stack.ledger.transaction = counting  # type: ignore[method-assign]
    try:
        # One batch and one wave hold every order (4 senders × 4 orders a wave).
        rules = despatch_rules(stack, fulfil_concurrency=4, tracking_wait_minutes=0)
        done = fulfil(ports(stack).storefront, stack.ledger, rules, "test", max_seconds=120)
    finally:
        del stack.ledger.transaction
    return counted[0], done


def test_a_steps_ledger_statements_do_not_grow_with_its_packages(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Answers are written with the next wave's claim or at the end, never early on a slow machine.
    monkeypatch.setattr(answers, "LONG_WAVE_SECONDS", 600.0)
    few, first = _one_step(stack, 2)
    many, second = _one_step(stack, 12)
    assert (first.fulfilled, second.fulfilled) == (2, 12), (first.summary, second.summary)
    with stack.ledger.transaction() as con:
        rows = con.execute(
            "SELECT p.state, f.state, o.despatch_state FROM despatch_packages p JOIN shopify_fulfilments f "
            "USING (package_number) JOIN orders o ON o.shopify_order_id = p.shopify_order_id"
        ).fetchall()
    assert len(rows) == 14 and set(rows) == {(states.FULFILLED, "created", states.ORDER_FULFILLED)}, rows
    # Ten packages more, and less than one statement a package more (about ten a package when
    # each package's write-ahead, answer and order state was a statement of its own).
    assert many - few < 10, (few, many)
