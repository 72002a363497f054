"""Breaking the fulfil run's time budget and its write-ahead (session 6, issue 8).

A run writes ahead (`sending`) a whole batch of packages at once and then sends them order by
order, `fulfil_concurrency` orders at a time, starting new orders until `fulfil_max_seconds`. So a
package can sit `sending` without having been sent for as long as the budget (60 s by default, up
to 600) while `unknown_outcome_settle_seconds` (60 s by default, as low as 0) is all another run's
in-doubt lookup waits before it takes "not in Shopify" for "never sent" and plans it again.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sync_pipeline.lib.domain.fulfilment import Move
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.ports import CreatedFulfilment, Tracking
from sync_pipeline.lib.flows.despatches.read import read_despatches
from sync_pipeline.lib.flows.despatches.run import fulfil
from sync_pipeline.lib.flows.despatches.shopify_port import ShopifyStorefront
from sync_pipeline.sandbox.shopify.control import FaultSettings, LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import (
    UK,
    despatch_rules,
    emails_for,
    into_warehouse,
    ports,
    run_once,
)
from sync_pipeline_tests.orders.conftest import Stack


class SlowFirstAnswer(ShopifyStorefront):
    """The first fulfilment reaches Shopify, then its answer is slow to come back."""

    def __init__(self, stack: Stack, answered_late: threading.Event, release: threading.Event) -> None:
        super().__init__(stack.source.client)
        self.answered_late, self.release = answered_late, release
        self.calls = 0

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
            self.answered_late.set()
            self.release.wait(timeout=60)
        return made


def test_a_package_written_ahead_but_not_yet_sent_is_not_sent_by_two_runs(stack: Stack) -> None:
    """Run A writes ahead the packages of two orders and sends them one order at a time; the first
    answer is slow. Run B (a raised pool, a backfill) finds the second package `sending` older than
    its settle time, looks it up, finds nothing (A has not sent it yet), plans and sends it. Then A
    goes on and sends it too: two fulfilments and two shipping emails for one package."""
    placed = [
        stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=2)], shipping_address=UK))
        for _ in range(2)
    ]
    numbers = into_warehouse(stack)
    for order in placed:  # one of two units: Shopify would take the package twice
        stack.pvx.despatch(numbers[order["id"]], [{"CAP-NVY": 1}])
    read_despatches(ports(stack).source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2))
    one_at_a_time = despatch_rules(stack, fulfil_concurrency=1)
    answered_late, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run_a() -> None:
        try:
            fulfil(SlowFirstAnswer(stack, answered_late, release), stack.ledger, one_at_a_time, "run-a",
                   max_seconds=30, settle_seconds=1)  # fmt: skip
        except BaseException as error:  # reported below
            errors.append(error)

    a = threading.Thread(target=run_a)
    a.start()
    try:
        assert answered_late.wait(timeout=60)
        # B comes by once A's write-ahead is older than B's settle time (1 s here; 60 s by default,
        # while A may go on starting orders for its whole budget, also 60 s by default).
        threading.Event().wait(1.5)
        fulfil(ShopifyStorefront(stack.source.client), stack.ledger, stack.rules, "run-b", max_seconds=30,
               settle_seconds=1)  # fmt: skip
    finally:
        release.set()
        a.join(timeout=120)
    assert not errors, errors
    for order in placed:
        assert len(stack.shop.get_order(order["id"])["fulfillments"]) == 1, order["name"]
        assert len(emails_for(stack, order["id"])) == 1, order["name"]
    with stack.ledger.transaction() as con:
        packages = con.execute("SELECT state FROM despatch_packages").fetchall()
        made = con.execute("SELECT state FROM shopify_fulfilments").fetchall()
    assert packages == [(states.FULFILLED,)] * 2 and made == [("created",)] * 2


def test_moves_to_the_warehouse_stop_at_the_time_budget_too(stack: Stack) -> None:
    """A brand whose default location is a store has every package wholly at the store, so every one
    needs a `fulfillmentOrderMove` before it is fulfilled. The run's budget (`fulfil_max_seconds`,
    which hands the `shopify_fulfil` pool on to the next despatch run) should stop new moves as it stops
    new fulfilments: past it, one order is moved (a run always makes progress), the rest wait."""
    stack.shop.add_location("Shop")
    placed = [
        stack.shop.place_order(
            OrderSpec(lines=[LineSpec(sku="CAP-NVY", location="Shop")], shipping_address=UK)
        )["id"]
        for _ in range(3)
    ]
    numbers = into_warehouse(stack)
    for oid in placed:
        stack.pvx.despatch(numbers[oid], [{"CAP-NVY": 1}])
    one_at_a_time = despatch_rules(stack, fulfil_concurrency=1)
    _, done = run_once(stack, rules=one_at_a_time, max_seconds=0)  # the budget is over at once
    assert done.fulfilled == 1, done.summary
    assert done.moves["moved"] == 1, f"{done.moves['moved']} moves after the budget ran out"


class ThrottledFirstSend(ShopifyStorefront):
    """Shopify answers the first fulfillmentCreate 429 until the client gives up (a sale's peak:
    the orders ingest and stock push spend the same bucket). A 429 is answered before anything
    runs, so that fulfilment was certainly not made."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(stack.source.client)
        self.stack, self.calls = stack, 0

    def create_fulfilment(
        self,
        request: dict[str, dict[str, int]],
        tracking: Tracking | None,
        notify_customer: bool,
        retry_until: float | None = None,
    ) -> CreatedFulfilment:
        self.calls += 1
        if self.calls == 1:
            attempts = self.client.transport.max_attempts
            self.stack.shop.set_faults(FaultSettings(rate_limit_429_next=attempts, retry_after_seconds=0))
        return super().create_fulfilment(request, tracking, notify_customer, retry_until)


def test_a_fulfilment_shopify_never_took_goes_back_to_pending_and_the_rest_go_on(stack: Stack) -> None:
    """One fulfillmentCreate throttled until the client gives up used to fail the whole run: every
    other package written ahead stayed `sending`, unsent, for a lookup a minute later, and a failed
    run leaves the sensor no `caught_up=False` to start the next one at once (the next poll is 5
    minutes away). Never made, it goes back to `pending` now, the other orders are still fulfilled,
    and the run says it has not caught up."""
    placed = [
        stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))["id"]
        for _ in range(2)
    ]
    numbers = into_warehouse(stack)
    for oid in placed:
        stack.pvx.despatch(numbers[oid], [{"CAP-NVY": 1}])
    one_at_a_time = despatch_rules(stack, fulfil_concurrency=1)
    read_despatches(ports(stack).source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2))
    done = fulfil(ThrottledFirstSend(stack), stack.ledger, one_at_a_time, "test", settle_seconds=3600)
    assert (done.fulfilled, done.left_for_next_run, done.caught_up) == (1, 1, False), done.summary
    with stack.ledger.transaction() as con:
        rows = con.execute(
            "SELECT p.state, f.state FROM despatch_packages p JOIN shopify_fulfilments f USING (package_number) "
            "ORDER BY p.state"
        ).fetchall()
    assert rows == [(states.FULFILLED, "created"), (states.PENDING, "failed")]
    # The next run sends it at once (no lookup wait: it is not in doubt), once.
    _, again = run_once(stack, rules=one_at_a_time, settle=3600)
    assert again.fulfilled == 1, again.summary
    for oid in placed:
        assert len(stack.shop.get_order(oid)["fulfillments"]) == 1 and len(emails_for(stack, oid)) == 1


class ThrottledFirstMove(ShopifyStorefront):
    """The first fulfillmentOrderMove is answered 429 until the client gives up."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(stack.source.client)
        self.stack, self.calls = stack, 0

    def move_lines(self, move: Move) -> None:
        self.calls += 1
        if self.calls == 1:
            attempts = self.client.transport.max_attempts
            self.stack.shop.set_faults(FaultSettings(rate_limit_429_next=attempts, retry_after_seconds=0))
        super().move_lines(move)


def test_a_move_shopify_never_took_leaves_the_package_pending_not_moving(stack: Stack) -> None:
    """The same for a move to the warehouse's location: not `moving` (a lookup's wait for a move
    that never ran), not a failed run, but `pending` and the next run at once, moved and
    fulfilled once."""
    stack.shop.add_location("Shop")
    oid = stack.shop.place_order(
        OrderSpec(lines=[LineSpec(sku="CAP-NVY", location="Shop")], shipping_address=UK)
    )["id"]
    stack.pvx.despatch(into_warehouse(stack)[oid], [{"CAP-NVY": 1}])
    _, done = run_once(stack, storefront=ThrottledFirstMove(stack), settle=3600)
    assert (done.moves["not_sent"], done.fulfilled, done.caught_up) == (1, 0, False), done.summary
    with stack.ledger.transaction() as con:
        assert con.execute("SELECT state FROM despatch_packages").fetchall() == [(states.PENDING,)]
    _, again = run_once(stack, settle=3600)
    assert (again.moves["moved"], again.fulfilled) == (1, 1), again.summary
    assert len(stack.shop.get_order(oid)["fulfillments"]) == 1 and len(emails_for(stack, oid)) == 1


class FirstSendThrottledOnce(ShopifyStorefront):
    """The first fulfillmentCreate is answered 429 once with `Retry-After: 3`: the client waits
    and sends it again, 3 s after the run claimed it."""

    def __init__(self, stack: Stack, throttled: threading.Event) -> None:
        super().__init__(stack.source.client)
        self.stack, self.throttled, self.calls = stack, throttled, 0

    def create_fulfilment(
        self,
        request: dict[str, dict[str, int]],
        tracking: Tracking | None,
        notify_customer: bool,
        retry_until: float | None = None,
    ) -> CreatedFulfilment:
        self.calls += 1
        if self.calls == 1:
            self.stack.shop.set_faults(FaultSettings(rate_limit_429_next=1, retry_after_seconds=3))
            self.throttled.set()
        return super().create_fulfilment(request, tracking, notify_customer, retry_until)


def test_a_send_retried_past_the_settle_time_is_not_made_twice_by_two_runs(stack: Stack) -> None:
    """Two fulfil runs at once (the shopify_fulfil pool raised). Run A claims a package and sends it;
    Shopify answers 429 with a `Retry-After` longer than half A's settle time. Until 2026-11-30
    A's client waited and sent again (8 attempts, up to 30 s apart or whatever Retry-After says,
    against a 60 s settle time by default) while run B, past its settle time, looked the package
    up, found nothing and sent it: two fulfilments, two shipping emails. Now A's client does not
    retry past claim + settle / 2: the package is "not sent", back to `pending`, and B (or the
    next run) sends it once."""
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=2)], shipping_address=UK))[
        "id"
    ]
    stack.pvx.despatch(into_warehouse(stack)[oid], [{"CAP-NVY": 1}])  # one of two: Shopify takes it twice
    read_despatches(ports(stack).source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2))
    throttled, errors = threading.Event(), []

    def run_a() -> None:
        try:
            fulfil(FirstSendThrottledOnce(stack, throttled), stack.ledger, stack.rules, "run-a",
                   max_seconds=30, settle_seconds=1)  # fmt: skip
        except BaseException as error:  # reported below
            errors.append(error)

    a = threading.Thread(target=run_a)
    a.start()
    try:
        assert throttled.wait(timeout=60)
        threading.Event().wait(1.5)  # past B's settle time, inside A's Retry-After
        fulfil(ShopifyStorefront(stack.source.client), stack.ledger, stack.rules, "run-b", max_seconds=30,
               settle_seconds=1)  # fmt: skip
    finally:
        a.join(timeout=120)
    assert not errors, errors
    assert len(stack.shop.get_order(oid)["fulfillments"]) == 1 and len(emails_for(stack, oid)) == 1
