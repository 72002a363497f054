"""Peoplevox corrects a package's lines while it is `fulfilling`: every send, not only one whose
answer was lost (since session 10 the next run's read runs while a fulfil step is sending).

Both sandboxes over real HTTP, a real ledger file. The read runs inside a `fulfillmentCreate`, as
the next run's read does beside a sending step.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_pipeline.lib.flows.despatches import answers as answers_module
from sync_pipeline.lib.flows.despatches import run as run_module
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.ports import CreatedFulfilment, FulfilmentRefusedError, Tracking
from sync_pipeline.lib.flows.despatches.read import CHANGED_AFTER_SEND, read_despatches
from sync_pipeline.lib.flows.despatches.run import fulfil
from sync_pipeline.lib.flows.despatches.shopify_port import ShopifyStorefront
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.ledger.despatches import PackageRow
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import (
    UK,
    despatch_rules,
    emails_for,
    into_warehouse,
    ports,
    run_once,
    shopify_lines,
)
from sync_pipeline_tests.despatches.test_review_lookups_and_edits import NeverReachesShopify, Rewritten
from sync_pipeline_tests.orders.conftest import Stack

CORRECTED = {"CAP-NVY": 1, "MUG-LOGO": 1}


def _package(stack: Stack, number: str) -> PackageRow:
    with stack.ledger.transaction() as con:
        return ledger_despatches.get_many(con, [number])[number]


def _read(stack: Stack, package: str, items: dict[str, int]) -> None:
    """The next run's read, Peoplevox reporting `package` with `items`."""
    source = Rewritten(stack, package, items=items)
    read_despatches(source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2), hinted=(package,))


class _ReadWhileSending(ShopifyStorefront):
    """The first `fulfillmentCreate` waits while the next run's read sees `package` corrected."""

    def __init__(self, stack: Stack, package: str) -> None:
        super().__init__(stack.source.client)
        self.stack, self.package = stack, package
        self.state_at_read: str | None = None

    def create_fulfilment(
        self,
        request: dict[str, dict[str, int]],
        tracking: Tracking | None,
        notify_customer: bool,
        retry_until: float | None = None,
    ) -> CreatedFulfilment:
        if self.state_at_read is None:
            self.state_at_read = _package(self.stack, self.package).state
            _read(self.stack, self.package, CORRECTED)
        return super().create_fulfilment(request, tracking, notify_customer, retry_until=retry_until)


class _NextRunReadsThenWaits:
    """`others_waiting`: nobody waits until `package` is written ahead (`fulfilling`); then the next
    run reads Peoplevox (the package corrected) and its fulfil step waits for the pool."""

    def __init__(self, stack: Stack, package: str) -> None:
        self.stack, self.package = stack, package
        self.state_at_read: str | None = None

    def __call__(self) -> bool:
        if self.state_at_read is None and _package(self.stack, self.package).state == states.FULFILLING:
            self.state_at_read = states.FULFILLING
            _read(self.stack, self.package, CORRECTED)
        return self.state_at_read is not None


def _two_orders(stack: Stack) -> tuple[str, str, str]:
    """A one-cap order despatched first, then a two-caps-and-a-mug order despatched as two caps."""
    first = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))["id"]
    second = stack.shop.place_order(
        OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=2), LineSpec(sku="MUG-LOGO")], shipping_address=UK)
    )["id"]
    numbers = into_warehouse(stack)
    stack.pvx.despatch(numbers[first], [{"CAP-NVY": 1}])
    package = stack.pvx.despatch(numbers[second], [{"CAP-NVY": 2}])["packages"][0]["number"]
    return first, second, package


def _two_caps_despatched_of_caps_and_a_mug(stack: Stack) -> tuple[str, str]:
    """An order of two caps and a mug in the warehouse, its two caps despatched in one package:
    (order id, package number)."""
    oid = stack.shop.place_order(
        OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=2), LineSpec(sku="MUG-LOGO")], shipping_address=UK)
    )["id"]
    package = stack.pvx.despatch(into_warehouse(stack)[oid], [{"CAP-NVY": 2}])["packages"][0]["number"]
    return oid, package


def test_lines_corrected_while_a_package_waits_in_its_step_go_when_it_is_put_back_at_the_hand_over(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two orders, a wave each. While the first goes out, the next run's read sees the second order's
    package (written ahead, `fulfilling`) corrected from two caps to a cap and a mug, and the next
    step waits, so the step hands over before the second wave and puts that package back to
    `pending`. It went back with the old lines (only a lookup finding nothing took the new ones),
    so the next step fulfilled two caps in Shopify, the mug that left the warehouse never, and
    `despatch_changed_after_fulfilment` ("the new lines go instead and this closes") stayed open."""
    monkeypatch.setattr(run_module, "ASK_SECONDS", 0.0)
    monkeypatch.setattr(answers_module, "WAVE_PER_SENDER", 1)  # a wave an order
    first, second, package = _two_orders(stack)
    read_despatches(ports(stack).source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2))
    one_at_a_time = despatch_rules(stack, fulfil_concurrency=1)
    next_run = _NextRunReadsThenWaits(stack, package)

    done = fulfil(
        ShopifyStorefront(stack.source.client), stack.ledger, one_at_a_time, "run-a", max_seconds=0.0,
        others_waiting=next_run,
    )  # fmt: skip
    assert next_run.state_at_read == states.FULFILLING
    assert done.fulfilled == 1 and done.left_for_next_run == 1, done.summary
    row = _package(stack, package)
    assert (row.state, row.items, row.reported_items) == (states.PENDING, CORRECTED, None)

    rest = fulfil(ShopifyStorefront(stack.source.client), stack.ledger, one_at_a_time, "run-b")
    assert rest.fulfilled == 1, rest.summary
    assert shopify_lines(stack, second) == CORRECTED
    assert shopify_lines(stack, first) == {"CAP-NVY": 1}
    assert len(emails_for(stack, first)) == len(emails_for(stack, second)) == 1
    assert CHANGED_AFTER_SEND not in {e.kind for e in stack.ledger.list_open_exceptions()}


def test_lines_corrected_while_a_package_is_being_sent_are_dropped_once_shopify_creates_it(
    stack: Stack,
) -> None:
    """The read sees the package corrected while its own `fulfillmentCreate` is under way, and
    Shopify creates it with the old lines. The corrected lines stayed aside for good (a later lookup
    or put-back would take them over what Shopify holds), and the exception told ops the answer was
    lost, which it never was. Now they are dropped, and the exception (which stands: Shopify holds
    two caps, a cap and a mug left) says the answer was awaited."""
    oid, package = _two_caps_despatched_of_caps_and_a_mug(stack)
    sending = _ReadWhileSending(stack, package)
    _, done = run_once(stack, storefront=sending)
    assert sending.state_at_read == states.FULFILLING
    assert done.fulfilled == 1, done.summary
    assert shopify_lines(stack, oid) == {"CAP-NVY": 2}
    row = _package(stack, package)
    assert (row.state, row.reported_items) == (states.FULFILLED, None)
    (flag,) = [e for e in stack.ledger.list_open_exceptions() if e.kind == CHANGED_AFTER_SEND]
    assert "answer is awaited" in flag.message and "lost" not in flag.message, flag.message


def test_lines_corrected_and_then_reported_as_sent_again_are_not_the_ones_sent_after_a_lookup(
    stack: Stack,
) -> None:
    """While a send's answer is lost Peoplevox reports the package as a cap and a mug, then as the two
    caps it was sent with again. Nothing cleared the lines kept aside, so the lookup that found
    nothing in Shopify planned the package with the cap and the mug: lines Peoplevox no longer
    reports. It goes as two caps, and the exception the correction opened is closed."""
    oid, package = _two_caps_despatched_of_caps_and_a_mug(stack)
    _, done = run_once(stack, storefront=NeverReachesShopify(stack), settle=60.0)
    assert done.outcome_unknown == 1, done.summary
    _read(stack, package, CORRECTED)
    _read(stack, package, {"CAP-NVY": 2})
    assert _package(stack, package).reported_items is None
    assert CHANGED_AFTER_SEND not in {e.kind for e in stack.ledger.list_open_exceptions()}
    fulfil(ports(stack).storefront, stack.ledger, stack.rules, "test", settle_seconds=0.0)
    assert shopify_lines(stack, oid) == {"CAP-NVY": 2}
    assert len(emails_for(stack, oid)) == 1


class _RefusedWhileCorrected(_ReadWhileSending):
    """The read sees the package corrected while its send is under way, and Shopify refuses it."""

    def create_fulfilment(
        self,
        request: dict[str, dict[str, int]],
        tracking: Tracking | None,
        notify_customer: bool,
        retry_until: float | None = None,
    ) -> CreatedFulfilment:
        self.state_at_read = _package(self.stack, self.package).state
        _read(self.stack, self.package, CORRECTED)
        raise FulfilmentRefusedError("userErrors: [lineItemsByFulfillmentOrder: Invalid quantity]")


def test_lines_corrected_while_a_refused_package_was_being_sent_are_the_ones_planned_after(
    stack: Stack,
) -> None:
    """Shopify refused the send (nothing made) while the read saw the package corrected. It went
    to `blocked` with the old lines and the new ones aside, so its next plan sent the old lines."""
    _, package = _two_caps_despatched_of_caps_and_a_mug(stack)
    refusing = _RefusedWhileCorrected(stack, package)
    _, done = run_once(stack, storefront=refusing)
    assert refusing.state_at_read == states.FULFILLING
    assert done.refused == 1, done.summary
    row = _package(stack, package)
    assert (row.state, row.items, row.reported_items) == (states.BLOCKED, CORRECTED, None)
    assert CHANGED_AFTER_SEND not in {e.kind for e in stack.ledger.list_open_exceptions()}
