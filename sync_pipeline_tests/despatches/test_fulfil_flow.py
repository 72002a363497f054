"""Despatches back to Shopify against both sandboxes, without Dagster: packages, bundles, exceptions."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from sync_pipeline.lib.flows.despatches import run as run_module
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.answers import WAVE_PER_SENDER
from sync_pipeline.lib.flows.despatches.ports import FulfilmentRefusedError
from sync_pipeline.lib.flows.despatches.read import read_despatches
from sync_pipeline.lib.flows.despatches.run import fulfil
from sync_pipeline.lib.flows.despatches.shopify_port import ShopifyStorefront
from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import (
    UK,
    add_bundle_catalogue,
    despatch_rules,
    emails_for,
    into_warehouse,
    ports,
    run_once,
    shopify_lines,
)
from sync_pipeline_tests.orders.conftest import Stack


def _package_states(stack: Stack) -> dict[str, str]:
    with stack.ledger.transaction() as con:
        return dict(con.execute("SELECT package_number, state FROM despatch_packages").fetchall())


def _open(stack: Stack) -> dict[tuple[str, str], str]:
    return {(e.kind, e.subject): e.owner for e in stack.ledger.list_open_exceptions()}


def test_multi_package_short_pick_and_bundle_completed_by_a_later_package(stack: Stack) -> None:
    add_bundle_catalogue(stack)
    a = stack.shop.place_order(
        OrderSpec(lines=[LineSpec(sku="TEE-BLK-M", quantity=3), LineSpec(sku="CAP-NVY")], shipping_address=UK)
    )
    b = stack.shop.place_order(
        OrderSpec(lines=[LineSpec(sku="BUNDLE-STARTER"), LineSpec(sku="MUG-LOGO")], shipping_address=UK)
    )
    numbers = into_warehouse(stack)
    first = stack.pvx.despatch(numbers[a["id"]], [{"TEE-BLK-M": 2}, {"TEE-BLK-M": 1}])  # CAP short picked
    stack.pvx.despatch(numbers[b["id"]], [{"TEE-BLK-M": 1, "MUG-LOGO": 1}])  # the bundle half shipped
    read, done = run_once(stack)
    assert (read.new_packages, done.fulfilled, done.pooled) == (3, 3, 0), done.summary
    assert shopify_lines(stack, a["id"]) == {"TEE-BLK-M": 3}
    assert shopify_lines(stack, b["id"]) == {"MUG-LOGO": 1}  # the bundle waits for its other parts
    with stack.ledger.transaction() as con:
        states_now = dict(con.execute("SELECT shopify_order_id, despatch_state FROM orders").fetchall())
    assert states_now[a["id"]] == states.PARTIALLY_DESPATCHED
    stack.pvx.despatch(numbers[a["id"]], [{"CAP-NVY": 1}])
    stack.pvx.despatch(numbers[b["id"]], [{"TEE-WHT-M": 1}, {"SOCK-BLK-OS": 2}])
    read, done = run_once(stack)
    assert (read.new_packages, done.fulfilled, done.pooled) == (3, 2, 1), done.summary
    assert shopify_lines(stack, a["id"]) == {"TEE-BLK-M": 3, "CAP-NVY": 1}
    assert shopify_lines(stack, b["id"]) == {"MUG-LOGO": 1, "BUNDLE-STARTER": 1}
    order_a = stack.shop.get_order(a["id"])
    assert order_a["fulfillment_status"] == "FULFILLED"
    assert [f["tracking"][0]["number"] for f in order_a["fulfillments"]] == [
        p["tracking_number"] for p in first["packages"]
    ] + [order_a["fulfillments"][2]["tracking"][0]["number"]]
    assert all(
        f["tracking"][0]["company"] == "Royal Mail" and f["tracking"][0]["url"]
        for f in order_a["fulfillments"]
    )
    # One shipping email per fulfilment, never a second for the same package.
    assert len(emails_for(stack, a["id"])) == 3 and len(emails_for(stack, b["id"])) == 2
    with stack.ledger.transaction() as con:
        states_now = dict(con.execute("SELECT shopify_order_id, despatch_state FROM orders").fetchall())
    assert states_now == {a["id"]: states.ORDER_FULFILLED, b["id"]: states.ORDER_FULFILLED}
    # Reading and fulfilling again changes nothing.
    read, done = run_once(stack)
    assert (read.new_packages, done.fulfilled) == (0, 0)
    assert len(stack.shop.emails()) == 5
    kinds = [e["kind"] for e in stack.ledger.events_for(a["id"])]
    assert kinds.count("despatched") == 3 and kinds.count("fulfilled") == 3 and "despatch_state" in kinds


def test_exceptions_have_owners_and_clear_when_fixed(stack: Stack) -> None:
    held = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))
    by_hand = stack.shop.place_order(
        OrderSpec(lines=[LineSpec(sku="MUG-LOGO", quantity=2)], shipping_address=UK)
    )
    cancelled = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="HOODIE-GRY-M")], shipping_address=UK))
    extra = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="TEE-BLK-L")], shipping_address=UK))
    numbers = into_warehouse(stack)
    stack.shop.fulfillment_orders(held["id"], "hold")
    (fo,) = stack.source.client.get_fulfillment_orders(by_hand["id"])
    stack.source.client.create_fulfillment({fo.id: None})  # a person fulfils it in the admin
    stack.shop.cancel_order(cancelled["id"])  # the warehouse ships it anyway
    stack.warehouse.client.save_data("Sales orders", [{"SalesOrderNumber": "MANUAL-1"}])
    stack.warehouse.client.save_data(
        "Sales order items",
        [{"SalesOrderNumber": "MANUAL-1", "ItemCode": "CAP-NVY", "QuantityOrdered": 1, "Line": "1"}],
    )
    for oid in (held["id"], by_hand["id"], cancelled["id"]):
        stack.pvx.despatch(
            numbers[oid],
            [{stack.shop.get_order(oid)["line_items"][0]["sku"]: 1 if oid != by_hand["id"] else 2}],
        )
    stack.pvx.despatch(numbers[extra["id"]], [{"TEE-BLK-L": 2}])  # one more than ordered
    stack.pvx.despatch("MANUAL-1", [{"CAP-NVY": 1}])
    _, done = run_once(stack)
    assert (done.fulfilled, done.fulfilled_elsewhere, done.blocked) == (1, 1, 2), done.summary
    found = _open(stack)
    owners = {kind: owner for (kind, _), owner in found.items()}
    assert owners == {
        "fulfillment_on_hold": "cx",
        "shipped_after_cancel": "cx",
        "shipped_after_cancel_refunded": "finance",
        "over_despatched": "warehouse_ops",
        "despatch_for_unknown_order": "warehouse_ops",
    }
    assert shopify_lines(stack, extra["id"]) == {"TEE-BLK-L": 1}
    assert (
        shopify_lines(stack, by_hand["id"]) == {"MUG-LOGO": 2}
        and len(stack.shop.get_order(by_hand["id"])["fulfillments"]) == 1
    )
    # CX releases the hold: the next run fulfils the package and closes the exception.
    stack.shop.fulfillment_orders(held["id"], "release")
    _, done = run_once(stack)
    assert done.fulfilled == 1 and shopify_lines(stack, held["id"]) == {"CAP-NVY": 1}
    assert (
        "fulfillment_on_hold",
        next(iter(k[1] for k in found if k[0] == "fulfillment_on_hold")),
    ) not in _open(stack)
    assert len(emails_for(stack, held["id"])) == 1


def test_late_tracking_is_added_without_a_second_email(stack: Stack) -> None:
    order = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))
    numbers = into_warehouse(stack)
    despatch = stack.pvx.despatch(numbers[order["id"]], [{"CAP-NVY": 1}], late_tracking=[True])
    package = despatch["packages"][0]["number"]
    _, done = run_once(stack)  # default: wait for the tracking number
    assert (done.fulfilled, done.awaiting_tracking) == (0, 1)
    no_wait = despatch_rules(stack, tracking_wait_minutes=0)
    _, done = run_once(stack, rules=no_wait)
    assert done.fulfilled == 1 and ("tracking_missing", package) in _open(stack)
    (fulfilment,) = stack.shop.get_order(order["id"])["fulfillments"]
    assert not fulfilment["tracking"] or not fulfilment["tracking"][0]["number"]
    number = stack.pvx.assign_tracking(package)
    read, done = run_once(stack, rules=no_wait, hinted=(package,))
    assert (read.tracking_added, done.tracking_added) == (1, 1)
    (fulfilment,) = stack.shop.get_order(order["id"])["fulfillments"]
    assert fulfilment["tracking"][0]["number"] == number and "royalmail" in fulfilment["tracking"][0]["url"]
    assert ("tracking_missing", package) not in _open(stack)
    assert [e["kind"] for e in emails_for(stack, order["id"])] == ["shipping_confirmation"]


class _RefusesTracking:
    """The real storefront, except that Shopify refuses every tracking update (userErrors)."""

    def __init__(self, real: object) -> None:
        self.real, self.refused = real, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    def add_tracking(self, fulfillment_id: str, tracking: object) -> None:
        self.refused += 1
        raise FulfilmentRefusedError("trackingInfoInput: Tracking number is invalid.")


def test_a_refused_late_tracking_number_leaves_the_fulfilment_created(stack: Stack) -> None:
    """Shopify holds the fulfilment whatever it thinks of a later tracking number: the ledger keeps
    it `created` (it once marked it `failed`, disagreeing with Shopify), warehouse ops get
    `tracking_refused`, and the same number is not offered again every run."""
    order = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))
    numbers = into_warehouse(stack)
    despatch = stack.pvx.despatch(numbers[order["id"]], [{"CAP-NVY": 1}], late_tracking=[True])
    package = despatch["packages"][0]["number"]
    no_wait = despatch_rules(stack, tracking_wait_minutes=0)
    _, done = run_once(stack, rules=no_wait)
    assert done.fulfilled == 1
    stack.pvx.assign_tracking(package, "BAD-NUMBER-1")
    refusing = _RefusesTracking(ports(stack).storefront)
    read, done = run_once(stack, rules=no_wait, hinted=(package,), storefront=refusing)  # type: ignore[arg-type]
    assert (read.tracking_added, done.tracking_added, done.tracking_refused, refusing.refused) == (1, 0, 1, 1)
    with stack.ledger.transaction() as con:
        row = con.execute(
            "SELECT state, fulfillment_id, tracking_refused_number FROM shopify_fulfilments WHERE package_number = ?",
            [package],
        ).fetchone()
    (fulfilment,) = stack.shop.get_order(order["id"])["fulfillments"]
    assert row is not None and row[0] == "created" and row[1] == fulfilment["id"] and row[2] == "BAD-NUMBER-1"
    assert _open(stack)[("tracking_refused", package)] == "warehouse_ops"
    _, done = run_once(stack, rules=no_wait, storefront=refusing)  # type: ignore[arg-type]
    assert (done.fulfilled, done.tracking_refused, refusing.refused) == (0, 0, 1)  # not offered again
    assert ("tracking_missing", package) in _open(stack)  # Shopify still shows no number
    assert [e["kind"] for e in emails_for(stack, order["id"])] == ["shipping_confirmation"]


def test_lost_answer_is_looked_up_not_sent_again(stack: Stack) -> None:
    order = stack.shop.place_order(
        OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=2)], shipping_address=UK)
    )
    numbers = into_warehouse(stack)
    stack.pvx.despatch(numbers[order["id"]], [{"CAP-NVY": 1}, {"CAP-NVY": 1}])
    stack.shop.set_faults(FaultSettings(lose_answer_next=1))
    _, done = run_once(stack)
    assert (done.fulfilled, done.outcome_unknown) == (1, 1), done.summary
    assert len(stack.shop.get_order(order["id"])["fulfillments"]) == 2  # Shopify made both
    _, done = run_once(stack)
    assert done.in_doubt == {"found_in_shopify": 1} and done.fulfilled == 0
    assert len(stack.shop.get_order(order["id"])["fulfillments"]) == 2
    assert len(emails_for(stack, order["id"])) == 2
    assert set(_package_states(stack).values()) == {states.FULFILLED}


def test_a_package_without_a_despatch_date_is_held_alone_and_goes_once_dated(stack: Stack) -> None:
    undated_order = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))
    other = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="MUG-LOGO")], shipping_address=UK))
    numbers = into_warehouse(stack)
    held = stack.pvx.despatch(numbers[undated_order["id"]], [{"CAP-NVY": 1}])["packages"][0]["number"]
    stack.pvx.despatch(numbers[other["id"]], [{"MUG-LOGO": 1}])
    # The report shows the package with a blank date; its TrackingNumberReceived callback names it,
    # so the read by number meets the row.
    stack.pvx.set_faults(undated_packages=[held])
    read, done = run_once(stack, hinted=(held,))
    assert (read.new_packages, read.held, done.fulfilled) == (1, 1, 1), (read, done.summary)
    assert shopify_lines(stack, other["id"]) == {"MUG-LOGO": 1}
    assert shopify_lines(stack, undated_order["id"]) == {}
    assert held not in _package_states(stack)
    (problem,) = [e for e in stack.ledger.list_open_exceptions() if e.kind == "despatch_unreadable"]
    assert (problem.subject, problem.owner) == (held, "warehouse_ops")
    assert "no despatch date" in problem.message and numbers[undated_order["id"]] in problem.message
    # Held packages are read again by number every run, without a callback, until they read whole.
    read, done = run_once(stack)
    assert (read.held, done.fulfilled) == (1, 0)
    assert [e.kind for e in stack.ledger.list_open_exceptions()].count("despatch_unreadable") == 1
    stack.pvx.set_faults(undated_packages=[])
    read, done = run_once(stack)
    assert (read.held, done.fulfilled) == (0, 1), (read, done.summary)
    assert shopify_lines(stack, undated_order["id"]) == {"CAP-NVY": 1}
    assert "despatch_unreadable" not in {e.kind for e in stack.ledger.list_open_exceptions()}
    assert len(emails_for(stack, undated_order["id"])) == 1


def test_a_run_stops_at_its_time_budget_and_leaves_the_rest_to_the_next_run(stack: Stack) -> None:
    """The fulfil step holds the `shopify_fulfil` pool, which the next despatch run waits for: past its
    budget (`fulfil_max_seconds`) it starts no new order; what it wrote ahead and did not send goes
    back to `pending` (nothing in doubt), and `caught_up` is False so the sensor runs again at once."""
    placed = [
        stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="TEE-BLK-M")], shipping_address=UK))["id"]
        for _ in range(3)
    ]
    numbers = into_warehouse(stack)
    for oid in placed:
        stack.pvx.despatch(numbers[oid], [{"TEE-BLK-M": 1}])
    one_at_a_time = despatch_rules(stack, fulfil_concurrency=1)
    _, done = run_once(stack, rules=one_at_a_time, max_seconds=0)  # over budget from the start
    assert (done.fulfilled, done.left_for_next_run, done.caught_up) == (1, 2, False), done.summary
    assert sorted(_package_states(stack).values()) == [states.FULFILLED, states.PENDING, states.PENDING]
    with stack.ledger.transaction() as con:
        rows = dict(con.execute("SELECT state, count(*) FROM shopify_fulfilments GROUP BY state").fetchall())
    assert rows == {"created": 1, "failed": 2}  # nothing left `sending`: the next run need not look it up
    _, done = run_once(stack, rules=one_at_a_time)  # the budget from despatches.yaml
    assert (done.fulfilled, done.caught_up) == (2, True), done.summary
    assert all(len(emails_for(stack, oid)) == 1 for oid in placed)


class _SlowSends(ShopifyStorefront):
    """Each fulfilment takes 0.3 s to answer: longer than the tiny budgets below."""

    def create_fulfilment(self, request, tracking, notify_customer, retry_until=None):  # type: ignore[no-untyped-def]
        time.sleep(0.3)
        return super().create_fulfilment(request, tracking, notify_customer, retry_until=retry_until)


def test_a_run_nobody_waits_behind_goes_on_past_its_budget(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The budget is there for steps that wait for the `shopify_fulfil` pool. While one waits the run
    stops at it as before; when none does it goes on (no idle pool while the next run starts up,
    session 7's 6-43 s gaps), and what it had put back at the budget it sends after all."""
    monkeypatch.setattr(run_module, "RUN_ON_STEPS", 1000)  # the hard limit is not under test
    placed = [
        stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="TEE-BLK-M")], shipping_address=UK))["id"]
        for _ in range(3)
    ]
    numbers = into_warehouse(stack)
    for oid in placed:
        stack.pvx.despatch(numbers[oid], [{"TEE-BLK-M": 1}])
    read_despatches(ports(stack).source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2))
    one_at_a_time = despatch_rules(stack, fulfil_concurrency=1)
    slow = _SlowSends(stack.source.client)

    waited_for = fulfil(
        slow, stack.ledger, one_at_a_time, "run-a", max_seconds=0.2, others_waiting=lambda: True
    )
    assert (waited_for.fulfilled, waited_for.left_for_next_run, waited_for.caught_up) == (1, 2, False)
    assert waited_for.ran_on == 0

    asked: list[bool] = []
    alone = fulfil(slow, stack.ledger, one_at_a_time, "run-b", max_seconds=0.2,
                   others_waiting=lambda: asked.append(False) or False)  # fmt: skip
    assert (alone.fulfilled, alone.left_for_next_run, alone.caught_up) == (2, 0, True), alone.summary
    assert alone.ran_on >= 1 and asked
    assert set(_package_states(stack).values()) == {states.FULFILLED}
    assert all(len(emails_for(stack, oid)) == 1 for oid in placed)


class _SlowAnswer(ShopifyStorefront):
    """Call number `slow` answers only once a call after number `until` has been made (or after 10 s)."""

    def __init__(self, stack: Stack, slow: int, until: int) -> None:
        super().__init__(stack.source.client)
        self.slow, self.until, self.calls = slow, until, 0
        self.lock, self.later_call_made = threading.Lock(), threading.Event()

    def create_fulfilment(self, request, tracking, notify_customer, retry_until=None):  # type: ignore[no-untyped-def]
        with self.lock:
            self.calls += 1
            call = self.calls
        if call > self.until:
            self.later_call_made.set()
        made = super().create_fulfilment(request, tracking, notify_customer, retry_until=retry_until)
        if call == self.slow:
            self.later_call_made.wait(timeout=10)
        return made


def test_the_next_wave_goes_out_while_a_slow_answer_of_the_last_one_is_awaited(stack: Stack) -> None:
    """Sends go in waves of orders, each claimed in one ledger transaction. The next wave is claimed
    while the last is still going out, so the senders never stand idle waiting for the ledger or for
    the last wave's slowest answer (they did: a wave was sent whole before the next was claimed)."""
    two = despatch_rules(stack, fulfil_concurrency=2)
    wave = 2 * WAVE_PER_SENDER  # orders; the run's first batch is one wave, the second two
    placed = [
        stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))["id"]
        for _ in range(3 * wave)
    ]
    numbers = into_warehouse(stack)
    for oid in placed:
        stack.pvx.despatch(numbers[oid], [{"CAP-NVY": 1}])
    read_despatches(ports(stack).source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2))
    # The second batch's first call is slow, until a call of that batch's second wave is made.
    slow = _SlowAnswer(stack, slow=wave + 1, until=2 * wave)
    done = fulfil(slow, stack.ledger, two, "test", max_seconds=60)
    assert slow.later_call_made.is_set()
    assert (done.fulfilled, done.caught_up) == (3 * wave, True), done.summary
    assert all(len(emails_for(stack, oid)) == 1 for oid in placed)
