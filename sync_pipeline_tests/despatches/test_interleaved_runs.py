"""Two fulfil runs at once on one ledger (a raised `shopify_fulfil` pool, a backfill beside the
sensor's run): each package still goes to Shopify once, and the ledger says what Shopify holds.

The pool keeps one fulfil step at a time in the shipped dagster.yaml, but operators may raise it
(`dagster instance concurrency set`), so the write-ahead itself must not let two runs send the
same package: a run applies its plan to a package only if nobody moved that package on since it
read it, and an in-doubt lookup writes its verdict only over the attempt it looked up.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.ports import OrderFulfilments
from sync_pipeline.lib.flows.despatches.read import read_despatches
from sync_pipeline.lib.flows.despatches.run import fulfil
from sync_pipeline.lib.flows.despatches.shopify_port import ShopifyStorefront
from sync_pipeline.sandbox.shopify.control import FaultSettings, LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import UK, emails_for, into_warehouse, ports, shopify_lines
from sync_pipeline_tests.orders.conftest import Stack


class ReadTogether(ShopifyStorefront):
    """Both runs read Shopify's fulfilment orders before either writes anything."""

    def __init__(self, stack: Stack, barrier: threading.Barrier) -> None:
        super().__init__(stack.source.client)
        self.barrier = barrier

    def fulfilment_state(
        self, order_ids: Sequence[str], retry_until: float | None = None
    ) -> dict[str, OrderFulfilments]:
        found = super().fulfilment_state(order_ids, retry_until)
        with contextlib.suppress(threading.BrokenBarrierError):  # the other run had nothing to plan
            self.barrier.wait(timeout=30)
        return found


def test_two_fulfil_runs_at_once_send_each_package_once(stack: Stack) -> None:
    order = stack.shop.place_order(
        OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=2)], shipping_address=UK)
    )
    number = into_warehouse(stack)[order["id"]]
    stack.pvx.despatch(number, [{"CAP-NVY": 1}])  # one of two: Shopify would take it twice
    read_despatches(ports(stack).source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2))
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def one_run(name: str) -> None:
        try:
            reports.append(
                fulfil(
                    ReadTogether(stack, barrier),
                    stack.ledger,
                    stack.rules,
                    name,
                    max_seconds=30,
                    settle_seconds=0,
                )
            )
        except BaseException as error:  # reported below
            errors.append(error)

    runs = [threading.Thread(target=one_run, args=(f"run-{i}",)) for i in range(2)]
    for t in runs:
        t.start()
    for t in runs:
        t.join(timeout=120)
    assert not errors, errors
    assert len(stack.shop.get_order(order["id"])["fulfillments"]) == 1
    assert len(emails_for(stack, order["id"])) == 1 and shopify_lines(stack, order["id"]) == {"CAP-NVY": 1}
    with stack.ledger.transaction() as con:
        package = con.execute("SELECT state FROM despatch_packages").fetchall()
        fulfilment = con.execute("SELECT state, attempts FROM shopify_fulfilments").fetchall()
    assert package == [(states.FULFILLED,)] and fulfilment == [("created", 1)]
    assert [e.kind for e in stack.ledger.list_open_exceptions()] == []


class DiesBeforeSending(ShopifyStorefront):
    """The run dies after the write-ahead, before the request leaves: Shopify has nothing."""

    def create_fulfilment(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt("killed before sending")


class SlowLookup(ShopifyStorefront):
    """Reads the order's fulfilments, then stalls before the run writes what it found."""

    def __init__(self, stack: Stack, looked: threading.Event, resume: threading.Event) -> None:
        super().__init__(stack.source.client)
        self.looked, self.resume = looked, resume

    def fulfilments_of(self, order_id: str):  # type: ignore[no-untyped-def]
        found = super().fulfilments_of(order_id)
        self.looked.set()
        self.resume.wait(timeout=60)
        return found


def test_a_stale_lookup_does_not_undo_another_runs_send(stack: Stack) -> None:
    """Run B looks up a package left `sending` and finds nothing; meanwhile run A looks it up too,
    sends it again and loses that answer. B's stale "not found" must not overwrite A's new
    write-ahead: the ledger would say `failed` while Shopify holds our fulfilment."""
    order = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))
    number = into_warehouse(stack)[order["id"]]
    stack.pvx.despatch(number, [{"CAP-NVY": 1}])
    read_despatches(ports(stack).source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2))
    with contextlib.suppress(KeyboardInterrupt):
        fulfil(DiesBeforeSending(stack.source.client), stack.ledger, stack.rules, "dead", max_seconds=30)
    looked, resume = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run_b() -> None:
        try:
            fulfil(SlowLookup(stack, looked, resume), stack.ledger, stack.rules, "run-b", max_seconds=30,
                   settle_seconds=0)  # fmt: skip
        except BaseException as error:  # reported below
            errors.append(error)

    b = threading.Thread(target=run_b)
    b.start()
    assert looked.wait(timeout=60)
    stack.shop.set_faults(FaultSettings(lose_answer_next=1))
    fulfil(ShopifyStorefront(stack.source.client), stack.ledger, stack.rules, "run-a", max_seconds=30,
           settle_seconds=0)  # fmt: skip
    stack.shop.set_faults(FaultSettings())
    resume.set()
    b.join(timeout=120)
    assert not errors, errors
    assert len(stack.shop.get_order(order["id"])["fulfillments"]) == 1  # A's, answer lost
    fulfil(ShopifyStorefront(stack.source.client), stack.ledger, stack.rules, "later", max_seconds=30,
           settle_seconds=0)  # fmt: skip
    [made] = stack.shop.get_order(order["id"])["fulfillments"]
    assert len(emails_for(stack, order["id"])) == 1
    with stack.ledger.transaction() as con:
        package = con.execute("SELECT state FROM despatch_packages").fetchall()
        fulfilment = con.execute("SELECT state, fulfillment_id FROM shopify_fulfilments").fetchall()
    assert package == [(states.FULFILLED,)] and fulfilment == [("created", made["id"])]
