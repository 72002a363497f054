"""`fulfilled_away_from_warehouse` says a package WAS fulfilled at a store: warehouse ops then add
its units back to that store's stock. It must be open only while Shopify may hold that fulfilment:
not when Shopify refused it, nor when the run's time budget ran out before it was sent (ops would
add stock the store never lost, and the store would sell what it does not have).
"""

from __future__ import annotations

import time

from sync_pipeline.lib.domain.fulfilment import Move
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.ports import CreatedFulfilment, Tracking
from sync_pipeline.lib.flows.despatches.shopify_port import ShopifyStorefront
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import UK, despatch_rules, into_warehouse, run_once
from sync_pipeline_tests.orders.conftest import Stack


class StoreWillNotMove(ShopifyStorefront):
    """Progress is reported on the Shop's fulfilment order just before our move: Shopify refuses it
    (and no MOVE is offered after). With `hold_before_fulfilling`, the Shop's fulfilment order is
    then held just before our fulfilment: Shopify refuses that too."""

    def __init__(self, stack: Stack, order_ids: list[str], hold_before_fulfilling: bool = False) -> None:
        super().__init__(stack.source.client)
        self.stack, self.order_ids, self.hold = stack, order_ids, hold_before_fulfilling

    def _owner(self, fulfilment_order_ids: object) -> str:
        for oid in self.order_ids:
            if any(
                fo["id"] in fulfilment_order_ids
                for fo in self.stack.shop.get_order(oid)["fulfillment_orders"]
            ):  # type: ignore[operator]
                return oid
        raise AssertionError(f"no order has {fulfilment_order_ids}")

    def move_lines(self, move: Move) -> None:
        self.stack.shop.fulfillment_orders(
            self._owner({move.fulfillment_order_id}), "report_progress", location="Shop"
        )
        super().move_lines(move)

    def create_fulfilment(
        self,
        request: dict[str, dict[str, int]],
        tracking: Tracking | None,
        notify_customer: bool,
        retry_until: float | None = None,
    ) -> CreatedFulfilment:
        if self.hold:
            self.stack.shop.fulfillment_orders(self._owner(request), "hold", location="Shop")
        return super().create_fulfilment(request, tracking, notify_customer, retry_until)


class OutlastsTheBudget(StoreWillNotMove):
    """The first fulfilment is answered only once the run's time budget is over."""

    def __init__(self, stack: Stack, order_ids: list[str], budget: float) -> None:
        super().__init__(stack, order_ids)
        self.budget, self.over, self.calls = budget, 0.0, 0

    def move_lines(self, move: Move) -> None:
        # The run started before its first move, so its budget is over by then.
        self.over = self.over or time.monotonic() + self.budget + 0.2
        super().move_lines(move)

    def create_fulfilment(
        self,
        request: dict[str, dict[str, int]],
        tracking: Tracking | None,
        notify_customer: bool,
        retry_until: float | None = None,
    ) -> CreatedFulfilment:
        made = super().create_fulfilment(request, tracking, notify_customer, retry_until)
        self.calls += 1
        if self.calls == 1:
            time.sleep(max(0.0, self.over - time.monotonic()))
        return made


def _at_the_shop(stack: Stack, orders: int) -> list[str]:
    stack.shop.add_location("Shop")
    placed = [
        stack.shop.place_order(
            OrderSpec(lines=[LineSpec(sku="CAP-NVY", location="Shop")], shipping_address=UK)
        )["id"]
        for _ in range(orders)
    ]
    numbers = into_warehouse(stack)
    for oid in placed:
        stack.pvx.despatch(numbers[oid], [{"CAP-NVY": 1}])
    return placed


def _away(stack: Stack) -> set[str | None]:
    return {
        e.shopify_order_id
        for e in stack.ledger.list_open_exceptions()
        if e.kind == "fulfilled_away_from_warehouse"
    }


def test_a_fulfilment_at_the_store_that_shopify_refuses_is_not_reported_as_fulfilled_there(
    stack: Stack,
) -> None:
    [order_id] = _at_the_shop(stack, 1)
    _, done = run_once(stack, storefront=StoreWillNotMove(stack, [order_id], hold_before_fulfilling=True))
    assert (done.fulfilled, done.refused, done.moves["refused"]) == (0, 1, 1), done.summary
    assert stack.shop.get_order(order_id)["fulfillments"] == []
    with stack.ledger.transaction() as con:
        assert con.execute("SELECT state FROM despatch_packages").fetchall() == [(states.BLOCKED,)]
    kinds = {e.kind for e in stack.ledger.list_open_exceptions()}
    assert "fulfilment_refused" in kinds
    assert _away(stack) == set(), "ops are told to add back stock the Shop never lost"


def test_a_fulfilment_at_the_store_left_for_the_next_run_is_not_reported_as_fulfilled_there(
    stack: Stack,
) -> None:
    first, second = _at_the_shop(stack, 2)
    one_at_a_time = despatch_rules(stack, fulfil_concurrency=1)
    # Both moves are refused within the budget; the first fulfilment's answer comes after it, so
    # the second order (written ahead at the Shop) is left for the next run.
    budget = 4.0
    storefront = OutlastsTheBudget(stack, [first, second], budget)
    _, done = run_once(stack, rules=one_at_a_time, storefront=storefront, max_seconds=budget)
    assert (done.fulfilled, done.left_for_next_run, done.moves["refused"]) == (1, 1, 2), done.summary
    held_back = second if stack.shop.get_order(first)["fulfillments"] else first
    assert stack.shop.get_order(held_back)["fulfillments"] == []
    assert held_back not in _away(stack), "ops are told to add back stock the Shop never lost"
