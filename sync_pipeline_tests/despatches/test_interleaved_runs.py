"""Two fulfil runs at once on one ledger (a raised `shopify_api` pool, a backfill beside the
sensor's run): each package still goes to Shopify once, and the ledger says what Shopify holds.

The pool keeps one fulfil step at a time in the shipped dagster.yaml, but operators may raise it
(`dagster instance concurrency set`), so the write-ahead itself must not let two runs send the
same package: a run applies its plan to a package only if nobody moved that package on since it
read it.
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
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import UK, emails_for, into_warehouse, ports, shopify_lines
from sync_pipeline_tests.orders.conftest import Stack


class ReadTogether(ShopifyStorefront):
    """Both runs read Shopify's fulfilment orders before either writes anything."""

    def __init__(self, stack: Stack, barrier: threading.Barrier) -> None:
        super().__init__(stack.source.client)
        self.barrier = barrier

    def fulfilment_state(self, order_ids: Sequence[str]) -> dict[str, OrderFulfilments]:
        found = super().fulfilment_state(order_ids)
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
