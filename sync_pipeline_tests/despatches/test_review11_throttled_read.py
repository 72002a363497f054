"""Session 11: the fulfil step's read of orders' fulfilment state, THROTTLED at a peak (the finance
money read sharing Shopify's bucket), over real HTTP against both sandboxes and a real ledger file."""

from __future__ import annotations

from sync_pipeline.lib.domain.fulfilment import Move
from sync_pipeline.lib.flows.despatches.shopify_port import ShopifyStorefront
from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import UK, emails_for, into_warehouse, run_once, shopify_lines
from sync_pipeline_tests.orders.conftest import Stack

READ = "OrdersFulfilmentState"


def _one_cap_despatched(stack: Stack) -> str:
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))["id"]
    stack.pvx.despatch(into_warehouse(stack)[oid], [{"CAP-NVY": 1}])
    return oid


def _sending_rows(stack: Stack) -> int:
    with stack.ledger.transaction() as con:
        row = con.execute("SELECT count(*) FROM shopify_fulfilments WHERE state = 'sending'").fetchone()
    return int(row[0]) if row else 0


def test_a_read_throttled_a_few_times_waits_for_the_bucket_and_fulfils_in_the_same_step(stack: Stack) -> None:
    """Another reader empties the bucket before each of the read's first three calls: the client
    waits what Shopify's throttle status says and the step fulfils the package all the same."""
    oid = _one_cap_despatched(stack)
    stack.shop.set_faults(FaultSettings(spend_bucket_before={READ: 3}))
    try:
        _, done = run_once(stack, max_seconds=30.0)
    finally:
        stack.shop.set_faults(FaultSettings())
    assert stack.shop.stats()["throttled"] >= 3
    assert done.fulfilled == 1 and done.orders_not_read == 0 and done.caught_up, done.summary
    assert shopify_lines(stack, oid) == {"CAP-NVY": 1}


def test_a_read_throttled_until_the_client_gives_up_leaves_the_orders_for_the_next_run(stack: Stack) -> None:
    """Session 10 at a peak: the read was THROTTLED eight times, the client gave up and the step
    raised, so Dagster failed and retried it and the run's time was lost. Now the orders not read
    go back untouched (nothing written ahead), the step ends normally saying so (`orders_not_read`,
    `caught_up` False: the sensor starts the next run at once), and the next run fulfils them once."""
    oid = _one_cap_despatched(stack)
    stack.shop.set_faults(FaultSettings(spend_bucket_before={READ: 50}))
    try:
        _, done = run_once(stack, max_seconds=30.0)
    finally:
        stack.shop.set_faults(FaultSettings())
    assert done.orders_not_read == 1 and done.caught_up is False, done.summary
    assert done.fulfilled == 0 and done.summary["orders_not_read"] == 1
    assert _sending_rows(stack) == 0 and shopify_lines(stack, oid) == {}
    _, again = run_once(stack)
    assert again.fulfilled == 1 and again.caught_up, again.summary
    assert shopify_lines(stack, oid) == {"CAP-NVY": 1} and len(emails_for(stack, oid)) == 1


class BucketSpentAfterTheMove(ShopifyStorefront):
    """The finance read starts spending the bucket just after our move: the read of the moved
    order's fulfilment orders again is THROTTLED until the client gives up."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(stack.source.client)
        self.stack = stack

    def move_lines(self, move: Move) -> None:
        super().move_lines(move)
        self.stack.shop.set_faults(FaultSettings(spend_bucket_before={READ: 50}))


def test_a_moved_order_whose_read_again_is_throttled_writes_nothing_and_goes_next_run(stack: Stack) -> None:
    """A partial move makes new fulfilment order ids: the order's plan from before the move cannot be
    sent. Its read again throttled, the order writes nothing this run and the step ends normally."""
    stack.shop.add_location("Shop")
    oid = stack.shop.place_order(
        OrderSpec(
            lines=[LineSpec(sku="TEE-BLK-M"), LineSpec(sku="CAP-NVY", location="Shop")], shipping_address=UK
        )
    )["id"]
    stack.pvx.despatch(into_warehouse(stack)[oid], [{"TEE-BLK-M": 1, "CAP-NVY": 1}])
    try:
        _, done = run_once(stack, storefront=BucketSpentAfterTheMove(stack), max_seconds=30.0)
    finally:
        stack.shop.set_faults(FaultSettings())
    assert done.moves["moved"] == 1 and done.fulfilled == 0, done.summary
    assert done.orders_not_read == 1 and done.caught_up is False, done.summary
    assert _sending_rows(stack) == 0 and shopify_lines(stack, oid) == {}
    _, again = run_once(stack)
    assert again.fulfilled == 1, again.summary
    assert shopify_lines(stack, oid) == {"TEE-BLK-M": 1, "CAP-NVY": 1} and len(emails_for(stack, oid)) == 1
