"""Two fulfil steps at once (the `shopify_fulfil` pool raised to 2; the sensor keeps two despatch runs
in flight): one run's in-doubt lookup must not take the other run's fulfilment, whose answer is
still on its way, for a package of its own."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.ports import (
    CreatedFulfilment,
    FulfilmentOutcomeUnknownError,
    Tracking,
)
from sync_pipeline.lib.flows.despatches.read import read_despatches
from sync_pipeline.lib.flows.despatches.run import fulfil
from sync_pipeline.lib.flows.despatches.shopify_port import ShopifyStorefront
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import (
    UK,
    despatch_rules,
    emails_for,
    into_warehouse,
    ports,
    run_once,
)
from sync_pipeline_tests.orders.conftest import Stack

FIRST_TAKES = 3.0  # seconds the first send takes before its outcome is unknown


class FirstLostSecondSlow(ShopifyStorefront):
    """Run A sends an order's two packages in turn: the first times out (`FIRST_TAKES` s) without
    reaching Shopify, an unknown outcome; the second is made, and its answer waits for `release`."""

    def __init__(self, stack: Stack, made: threading.Event, release: threading.Event) -> None:
        super().__init__(stack.source.client)
        self.made, self.release, self.calls = made, release, 0

    def create_fulfilment(
        self,
        request: dict[str, dict[str, int]],
        tracking: Tracking | None,
        notify_customer: bool,
        retry_until: float | None = None,
    ) -> CreatedFulfilment:
        self.calls += 1
        if self.calls == 1:
            threading.Event().wait(FIRST_TAKES)
            raise FulfilmentOutcomeUnknownError("ReadTimeout (never reached Shopify)")
        made = super().create_fulfilment(request, tracking, notify_customer, retry_until)
        self.made.set()
        self.release.wait(timeout=60)
        return made


def test_a_lookup_leaves_an_order_alone_while_another_run_has_a_send_of_it_in_flight(stack: Stack) -> None:
    """Run A's first package is in doubt (past run B's settle time) while A's second, identical in
    lines and without tracking, is in Shopify with its answer on the way. B's lookup used to take
    that fulfilment for the first package: both packages recorded on one fulfilment, the first
    never sent (one unit shipped and never fulfilled, one shipping email for two parcels). B leaves
    the order alone now; the next lookup finds nothing for the first package and it is sent."""
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=2)], shipping_address=UK))[
        "id"
    ]
    stack.pvx.despatch(
        into_warehouse(stack)[oid], [{"CAP-NVY": 1}, {"CAP-NVY": 1}], late_tracking=[True, True]
    )
    rules = despatch_rules(stack, tracking_wait_minutes=0)
    read_despatches(ports(stack).source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2))
    made, release, errors = threading.Event(), threading.Event(), []

    def run_a() -> None:
        try:  # settle 1 s: the second package is claimed again just before its (late) send
            fulfil(FirstLostSecondSlow(stack, made, release), stack.ledger, rules, "run-a", max_seconds=30,
                   settle_seconds=1)  # fmt: skip
        except BaseException as error:  # reported below
            errors.append(error)

    a = threading.Thread(target=run_a)
    a.start()
    try:
        assert made.wait(timeout=60)
        # B's settle time: the first package's claim is older, the second's (just now) is not.
        done = fulfil(ShopifyStorefront(stack.source.client), stack.ledger, rules, "run-b", max_seconds=30,
                      settle_seconds=FIRST_TAKES)  # fmt: skip
    finally:
        release.set()
        a.join(timeout=120)
    assert not errors, errors
    assert done.in_doubt["found_in_shopify"] == 0, done.in_doubt
    _, again = run_once(stack, rules=rules, settle=0)
    assert again.in_doubt["planned_again"] == 1 and again.fulfilled == 1, (again.in_doubt, again.summary)
    assert len(stack.shop.get_order(oid)["fulfillments"]) == 2 and len(emails_for(stack, oid)) == 2
    with stack.ledger.transaction() as con:
        rows = con.execute(
            "SELECT p.state, f.fulfillment_id FROM despatch_packages p JOIN shopify_fulfilments f "
            "USING (package_number)"
        ).fetchall()
    assert {state for state, _ in rows} == {states.FULFILLED} and len({fid for _, fid in rows}) == 2, rows
