"""A package whose lines Shopify assigned to two locations, or partly to a closed fulfilment order.

Real Shopify takes one location per `fulfillmentCreate` ("All fulfillment orders must belong to
the same order and location", ../shared/reference/shopify/API.md §5). The flow used to fulfil the
part at one location, record the whole package as fulfilled and close its exception: the ledger
said `fulfilled` while Shopify still had a line to fulfil. Now the lines elsewhere are moved to the
warehouse's location (`fulfillmentOrderMove`) and the package goes as one fulfilment; when they
cannot be moved (or one line's fulfilment order is closed) the package waits whole, with an
exception for CX, and nothing is claimed that Shopify does not hold.

A package wholly at one location that is not the warehouse's (a store) is moved to the warehouse's
location too: the warehouse shipped it, and fulfilled at the store Shopify takes the units off the
store's stock. If Shopify will not move it, it is fulfilled at the store all the same (the shipping
email matters more) with an exception for warehouse ops to correct that stock.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from sync_pipeline.lib.domain.fulfilment import Move
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.shopify_port import ShopifyStorefront
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.sandbox.shopify.control import FaultSettings, LineSpec, OrderSpec, StockSpec
from sync_pipeline_tests.despatches.helpers import (
    UK,
    despatch_rules,
    emails_for,
    into_warehouse,
    run_once,
    shopify_lines,
)
from sync_pipeline_tests.orders.conftest import Stack


def _split_order(stack: Stack) -> tuple[str, str]:
    """A tee at the Warehouse and a cap at the Shop, in the warehouse; returns (order id, SO number)."""
    stack.shop.add_location("Shop")
    order = stack.shop.place_order(
        OrderSpec(
            lines=[LineSpec(sku="TEE-BLK-M"), LineSpec(sku="CAP-NVY", location="Shop")], shipping_address=UK
        )
    )
    return order["id"], into_warehouse(stack)[order["id"]]


def _locations(stack: Stack, order_id: str) -> dict[str, str]:
    """Open fulfilment order lines: line item id → location name."""
    fos = stack.shop.get_order(order_id)["fulfillment_orders"]
    return {x["line_item_id"]: fo["location"] for fo in fos for x in fo["lines"] if x["remaining"]}


def _package(stack: Stack) -> list[tuple[str, object]]:
    with stack.ledger.transaction() as con:
        return con.execute("SELECT state, line_quantities FROM despatch_packages").fetchall()


def _reasons(stack: Stack) -> list[tuple[str, str, object]]:
    with stack.ledger.transaction() as con:
        return con.execute("SELECT state, state_reason, updated_at FROM despatch_packages").fetchall()


def _moves_in_shopify(stack: Stack, order_id: str) -> int:
    return sum(e["kind"] == "fulfillment_order_moved" for e in stack.shop.get_order(order_id)["events"])


def test_a_package_over_two_locations_is_moved_to_the_warehouse_and_fulfilled_once(stack: Stack) -> None:
    order_id, number = _split_order(stack)
    stack.pvx.despatch(number, [{"TEE-BLK-M": 1, "CAP-NVY": 1}])
    _, done = run_once(stack)
    assert (done.fulfilled, done.blocked, done.moves["moved"]) == (1, 0, 1), done.summary
    assert shopify_lines(stack, order_id) == {"TEE-BLK-M": 1, "CAP-NVY": 1}
    [fulfilment] = stack.shop.get_order(order_id)["fulfillments"]
    assert len(emails_for(stack, order_id)) == 1 and _moves_in_shopify(stack, order_id) == 1
    [(state, lines)] = _package(stack)
    assert state == states.FULFILLED and sorted(json.loads(str(lines)).values()) == [1, 1]
    assert stack.ledger.list_open_exceptions() == []
    with stack.ledger.transaction() as con:
        kinds = [e["kind"] for e in ledger_events.for_order(con, order_id)]
    assert "fulfilment_order_move" in kinds and kinds.index("fulfilment_order_move") < kinds.index(
        "fulfilled"
    )
    assert fulfilment["name"].endswith(".1")
    _, again = run_once(stack)
    assert (again.fulfilled, again.moves["moved"]) == (0, 0)


def test_two_packages_that_each_need_a_move_both_go_in_one_run(stack: Stack) -> None:
    """The second package's move is planned only once the first has moved; it must not wait for
    the next run (the 5-minute poll) while nothing stops it."""
    stack.shop.add_location("Shop")
    order = stack.shop.place_order(
        OrderSpec(
            lines=[
                LineSpec(sku="TEE-BLK-M", quantity=2),
                LineSpec(sku="CAP-NVY", quantity=2, location="Shop"),
            ],
            shipping_address=UK,
        )
    )
    number = into_warehouse(stack)[order["id"]]
    stack.pvx.despatch(number, [{"TEE-BLK-M": 1, "CAP-NVY": 1}, {"TEE-BLK-M": 1, "CAP-NVY": 1}])
    _, done = run_once(stack)
    assert (done.fulfilled, done.moves["moved"]) == (2, 2), done.summary
    assert shopify_lines(stack, order["id"]) == {"TEE-BLK-M": 2, "CAP-NVY": 2}
    assert (
        len(emails_for(stack, order["id"])) == 2
        and len(stack.shop.get_order(order["id"])["fulfillments"]) == 2
    )


def _fulfilled_at(stack: Stack, order_id: str) -> dict[str, int]:
    """Location name → units fulfilled from its fulfilment orders."""
    done: Counter[str] = Counter()
    for fo in stack.shop.get_order(order_id)["fulfillment_orders"]:
        done[fo["location"]] += sum(x["total"] - x["remaining"] for x in fo["lines"])
    return dict(+done)


def test_a_package_wholly_at_a_store_is_moved_to_the_warehouse_or_if_refused_fulfilled_there(
    stack: Stack,
) -> None:
    """Two orders, each one cap whose fulfilment order is wholly at the Shop. The first moves to the
    Warehouse and is fulfilled there. The second's move is refused (progress reported on it between
    our read and our move): fulfilled at the Shop all the same, with an exception about its stock."""
    stack.shop.add_location("Shop")
    moved, refused = (
        stack.shop.place_order(
            OrderSpec(lines=[LineSpec(sku="CAP-NVY", location="Shop")], shipping_address=UK)
        )["id"]
        for _ in range(2)
    )
    numbers = into_warehouse(stack)
    for oid in (moved, refused):
        stack.pvx.despatch(numbers[oid], [{"CAP-NVY": 1}])
    _, done = run_once(stack, storefront=RefusedAtTheLastMoment(stack, refused))
    assert (done.fulfilled, done.blocked, done.moves["moved"], done.moves["refused"]) == (2, 0, 1, 1), (
        done.summary
    )
    assert _fulfilled_at(stack, moved) == {"Warehouse": 1}  # not taken off the Shop's stock
    assert _fulfilled_at(stack, refused) == {"Shop": 1}
    assert len(emails_for(stack, moved)) == len(emails_for(stack, refused)) == 1
    [problem] = stack.ledger.list_open_exceptions()
    assert (problem.kind, problem.owner, problem.shopify_order_id) == (
        "fulfilled_away_from_warehouse",
        "warehouse_ops",
        refused,
    )
    assert "refused the move" in problem.message and "Shop's stock" in problem.message


def test_when_stock_yaml_names_no_shopify_location_the_lines_go_where_most_of_the_package_is(
    stack: Stack,
) -> None:
    rules = stack.rules.model_copy(
        update={
            "stock": stack.rules.stock.model_copy(update={"locations": {"PrimarySite": "Main warehouse"}})
        }
    )
    stack.shop.add_location("Shop")
    stack.shop.add_location("Outlet")
    stack.shop.set_stock([StockSpec(sku="TEE-BLK-M", available=5, location="Shop")])
    order = stack.shop.place_order(
        OrderSpec(
            lines=[
                LineSpec(sku="CAP-NVY", quantity=2, location="Shop"),
                LineSpec(sku="TEE-BLK-M", location="Outlet"),
            ],
            shipping_address=UK,
        )
    )
    number = into_warehouse(stack)[order["id"]]
    stack.pvx.despatch(number, [{"CAP-NVY": 2, "TEE-BLK-M": 1}])
    _, done = run_once(stack, rules=rules)
    assert (done.fulfilled, done.moves["moved"]) == (1, 1), done.summary
    assert shopify_lines(stack, order["id"]) == {"CAP-NVY": 2, "TEE-BLK-M": 1}
    assert _fulfilled_at(stack, order["id"]) == {"Shop": 3}
    # Said once, for the name, not once per package; closed once the name matches.
    [problem] = stack.ledger.list_open_exceptions()
    assert (problem.kind, problem.owner) == ("fulfilment_location_unknown", "integration")
    assert "'Main warehouse'" in problem.message
    stack.shop.add_location("Main warehouse")
    order = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="TEE-BLK-M")], shipping_address=UK))
    stack.shop.set_stock([StockSpec(sku="TEE-BLK-M", available=5, location="Main warehouse")])
    stack.pvx.despatch(into_warehouse(stack)[order["id"]], [{"TEE-BLK-M": 1}])
    _, done = run_once(stack, rules=rules)
    assert done.fulfilled == 1 and _fulfilled_at(stack, order["id"]) == {"Main warehouse": 1}, done.summary
    assert stack.ledger.list_open_exceptions() == []


def test_a_package_whose_other_location_cannot_move_waits_whole_until_it_can(stack: Stack) -> None:
    order_id, number = _split_order(stack)
    # The Shop's fulfilment order has progress reported: Shopify offers no MOVE.
    stack.shop.fulfillment_orders(order_id, "report_progress", location="Shop")
    stack.pvx.despatch(number, [{"TEE-BLK-M": 1, "CAP-NVY": 1}])
    _, done = run_once(stack)
    assert (done.fulfilled, done.blocked, sum(done.moves.values())) == (0, 1, 0), done.summary
    assert shopify_lines(stack, order_id) == {} and emails_for(stack, order_id) == []
    assert _package(stack) == [(states.BLOCKED, None)]
    with stack.ledger.transaction() as con:
        order_state = con.execute("SELECT despatch_state FROM orders").fetchall()
    assert order_state == [(states.DESPATCHED,)]  # shipped, not in Shopify
    [problem] = stack.ledger.list_open_exceptions()
    assert (problem.kind, problem.owner) == ("fulfillment_order_closed", "cx")
    assert "other location" in problem.message and "one location per fulfilment" in problem.message
    _, again = run_once(stack)  # tried again next run, still whole or nothing
    assert (again.fulfilled, again.blocked) == (0, 1) and shopify_lines(stack, order_id) == {}
    # CX marks it open again: the next run moves it and fulfils the package as one.
    stack.shop.fulfillment_orders(order_id, "open", location="Shop")
    _, done = run_once(stack)
    assert (done.fulfilled, done.moves["moved"]) == (1, 1), done.summary
    assert shopify_lines(stack, order_id) == {"TEE-BLK-M": 1, "CAP-NVY": 1}
    assert len(emails_for(stack, order_id)) == 1 and stack.ledger.list_open_exceptions() == []


class RefusedAtTheLastMoment(ShopifyStorefront):
    """Progress is reported on the Shop's fulfilment order between our read and our move."""

    def __init__(self, stack: Stack, order_id: str) -> None:
        super().__init__(stack.source.client)
        self.stack, self.order_id = stack, order_id

    def move_lines(self, move: Move) -> None:
        self.stack.shop.fulfillment_orders(self.order_id, "report_progress", location="Shop")
        super().move_lines(move)


def test_a_move_shopify_refuses_leaves_the_package_blocked_with_its_reason(stack: Stack) -> None:
    order_id, number = _split_order(stack)
    stack.pvx.despatch(number, [{"TEE-BLK-M": 1, "CAP-NVY": 1}])
    _, done = run_once(stack, storefront=RefusedAtTheLastMoment(stack, order_id))
    assert (done.fulfilled, done.blocked, done.moves["refused"]) == (0, 1, 1), done.summary
    assert shopify_lines(stack, order_id) == {} and _moves_in_shopify(stack, order_id) == 0
    assert _package(stack) == [(states.BLOCKED, None)]
    [problem] = stack.ledger.list_open_exceptions()
    assert (problem.kind, problem.owner) == ("fulfillment_order_closed", "cx")
    assert "refused to move" in problem.message and "progress reported" in problem.message


def test_a_move_whose_answer_is_lost_is_not_sent_again_and_the_package_goes_once(stack: Stack) -> None:
    order_id, number = _split_order(stack)
    stack.pvx.despatch(number, [{"TEE-BLK-M": 1, "CAP-NVY": 1}])
    stack.shop.set_faults(FaultSettings(lose_answer_next=1))  # the move happens; its answer is lost
    _, done = run_once(stack, settle=3600)
    assert (done.fulfilled, done.moves["outcome_unknown"]) == (0, 1), done.summary
    assert _moves_in_shopify(stack, order_id) == 1 and shopify_lines(stack, order_id) == {}
    assert _package(stack) == [(states.MOVING, None)]
    # Within the settle time the order is left alone: no second move, nothing sent.
    _, done = run_once(stack, settle=3600)
    assert (done.fulfilled, sum(done.moves.values())) == (0, 0), done.summary
    # After it, the run reads the fulfilment orders, sees the lines moved and fulfils once.
    _, done = run_once(stack, settle=0)
    assert (done.fulfilled, sum(done.moves.values())) == (1, 0), done.summary
    assert _moves_in_shopify(stack, order_id) == 1
    assert shopify_lines(stack, order_id) == {"TEE-BLK-M": 1, "CAP-NVY": 1}
    assert len(emails_for(stack, order_id)) == 1 and len(stack.shop.get_order(order_id)["fulfillments"]) == 1


class AlwaysRefused(RefusedAtTheLastMoment):
    """Every move is refused, yet MOVE stays offered (marked open again after each refusal)."""

    calls = 0

    def move_lines(self, move: Move) -> None:
        AlwaysRefused.calls += 1
        try:
            super().move_lines(move)
        finally:
            self.stack.shop.fulfillment_orders(self.order_id, "open", location="Shop")


def test_a_move_shopify_keeps_refusing_is_retried_after_a_while_not_every_run(stack: Stack) -> None:
    order_id, number = _split_order(stack)
    stack.pvx.despatch(number, [{"TEE-BLK-M": 1, "CAP-NVY": 1}])
    storefront = AlwaysRefused(stack, order_id)
    for _ in range(3):
        _, done = run_once(stack, storefront=storefront)
        assert (done.fulfilled, done.blocked) == (0, 1), done.summary
    assert AlwaysRefused.calls == 1  # not a mutation and an event every run
    [problem] = stack.ledger.list_open_exceptions()
    assert "refused to move" in problem.message and "progress reported" in problem.message
    # The wait (despatches.yaml `move_retry_minutes`, 30 by default) is over: tried again.
    retry_now = despatch_rules(stack, move_retry_minutes=0)
    _, done = run_once(stack, rules=retry_now, storefront=storefront)
    assert AlwaysRefused.calls == 2 and done.moves["refused"] == 1
    _, done = run_once(stack, rules=retry_now)  # the cause fixed (nothing refuses): moved and fulfilled
    assert (done.fulfilled, done.moves["moved"]) == (1, 1), done.summary
    assert stack.ledger.list_open_exceptions() == []


class DiesAfterTheMove(ShopifyStorefront):
    """The process dies after Shopify moved the lines, before anything else is written."""

    def move_lines(self, move: Move) -> None:
        super().move_lines(move)
        raise KeyboardInterrupt("killed")


def test_a_run_that_dies_after_a_move_leaves_the_next_run_to_fulfil_once(stack: Stack) -> None:
    """The next run comes by after the settle time (60 s, the default), planned from what Shopify
    shows. The write-ahead is aged by the settle time rather than run again with `settle=0`: that
    compared two wall-clock readings milliseconds apart (`moved_recently`), so a clock stepped back
    under load (NTP on a busy VM) left the order alone and nothing was fulfilled."""
    order_id, number = _split_order(stack)
    stack.pvx.despatch(number, [{"TEE-BLK-M": 1, "CAP-NVY": 1}])
    with pytest.raises(KeyboardInterrupt):
        run_once(stack, storefront=DiesAfterTheMove(stack.source.client))
    assert _package(stack) == [(states.MOVING, None)] and _moves_in_shopify(stack, order_id) == 1
    settle = stack.rules.despatches.unknown_outcome_settle_seconds
    with stack.ledger.transaction() as con:  # the settle time passes
        con.execute(
            f"UPDATE despatch_packages SET updated_at = updated_at - INTERVAL {int(settle) + 1} SECOND"
        )
    _, done = run_once(stack, settle=settle)
    assert (done.fulfilled, sum(done.moves.values())) == (1, 0), (done.summary, _reasons(stack))
    assert _moves_in_shopify(stack, order_id) == 1 and len(emails_for(stack, order_id)) == 1
    assert shopify_lines(stack, order_id) == {"TEE-BLK-M": 1, "CAP-NVY": 1}


@pytest.mark.parametrize("action", ["close", "incomplete"])
def test_a_package_with_one_line_on_a_closed_fulfilment_order_waits_whole(stack: Stack, action: str) -> None:
    """One line's fulfilment order is CLOSED (by hand) or INCOMPLETE (a fulfilment service gave
    up) while the rest of the package is fulfillable: the package is one parcel, so it waits whole
    for CX instead of being fulfilled in part and recorded as all fulfilled."""
    order_id, number = _split_order(stack)
    snapshot = stack.shop.fulfillment_orders(order_id, action, location="Shop")
    statuses = {fo["location"]: fo["status"] for fo in snapshot["fulfillment_orders"]}
    assert statuses == {"Warehouse": "OPEN", "Shop": action.upper().replace("CLOSE", "CLOSED")}
    stack.pvx.despatch(number, [{"TEE-BLK-M": 1, "CAP-NVY": 1}])
    _, done = run_once(stack)
    assert (done.fulfilled, done.blocked, sum(done.moves.values())) == (0, 1, 0), done.summary
    assert shopify_lines(stack, order_id) == {} and emails_for(stack, order_id) == []
    assert _package(stack) == [(states.BLOCKED, None)]
    [problem] = stack.ledger.list_open_exceptions()
    assert (problem.kind, problem.owner) == ("fulfillment_order_closed", "cx")
    assert "Cap" in problem.message or "CAP-NVY" in problem.message, problem.message
    _, again = run_once(stack)
    assert (again.fulfilled, again.blocked) == (0, 1) and shopify_lines(stack, order_id) == {}
