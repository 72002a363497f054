"""A carrying fulfilment's numbers, its own parcel's and its pooled parcels', as the `tracking_posted`
check and the late-tracking step see them: real Dagster checks over a real ledger file, both
sandboxes over HTTP (the Shopify sandbox refuses the numbers a test names, as Shopify does a
number it finds invalid)."""

from __future__ import annotations

from typing import Any

from sync_pipeline.defs.despatches.checks import tracking_posted
from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import (
    UK,
    add_bundle_catalogue,
    despatch_rules,
    into_warehouse,
    run_once,
)
from sync_pipeline_tests.despatches.test_checks import _run
from sync_pipeline_tests.orders.conftest import Stack

# The bundle BUNDLE-STARTER shipped in three parcels: the first two complete no line (pooled), the
# third carries their numbers on its fulfilment.
PARTS = [{"TEE-BLK-M": 1}, {"TEE-WHT-M": 1}, {"SOCK-BLK-OS": 2}]


def _bundle(stack: Stack, late: list[bool], first: bool = True) -> tuple[str, list[dict[str, Any]]]:
    if first:
        add_bundle_catalogue(stack)
    order = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="BUNDLE-STARTER")], shipping_address=UK))
    despatch = stack.pvx.despatch(into_warehouse(stack)[order["id"]], PARTS, late_tracking=late)
    return order["id"], despatch["packages"]


def _numbers(stack: Stack, order_id: str) -> list[str]:
    (fulfilment,) = stack.shop.get_order(order_id)["fulfillments"]
    return sorted(t["number"] for t in fulfilment["tracking"] if t["number"])


def _missing(result: Any) -> list[str]:
    """The parcels the check lists, from its table (one row a parcel)."""
    table = result.metadata["fulfilments"].value
    return sorted(line.split("|")[1].strip() for line in table.splitlines()[2:])


def test_tracking_posted_names_the_parcels_whose_numbers_shopify_lacks(stack: Stack) -> None:
    """The carrying parcel has no number yet, its pooled parcels have theirs: Shopify's fulfilment
    holds two numbers and the WARN said "without a tracking number". It is right to warn (the
    parcel that completed the bundle cannot be tracked) but it now says which parcel. The other way
    round, a pooled parcel carried without its number beside the carrying parcel's own, the check
    passed: a parcel the customer could not track, and no warning (until 2026-12-01)."""
    no_wait = despatch_rules(stack, tracking_wait_minutes=0)
    order_id, packages = _bundle(stack, [False, False, True])
    carrier = packages[2]["number"]
    _, done = run_once(stack, rules=no_wait)
    assert (done.fulfilled, done.pooled) == (1, 2), done.summary
    assert _numbers(stack, order_id) == sorted(p["tracking_number"] for p in packages[:2])
    warned = _run(tracking_posted, stack.data_dir)
    assert not warned.passed and _missing(warned) == [carrier], warned.metadata
    assert "parcel" in (warned.description or "")
    stack.pvx.assign_tracking(carrier)
    run_once(stack, rules=no_wait, hinted=(carrier,))
    assert _run(tracking_posted, stack.data_dir).passed

    other_id, others = _bundle(stack, [True, False, False], first=False)
    _, done = run_once(stack, rules=no_wait)
    assert done.fulfilled == 1, done.summary
    assert len(_numbers(stack, other_id)) == 2  # the carrying parcel's and the second's: not the first's
    warned = _run(tracking_posted, stack.data_dir)
    assert not warned.passed and _missing(warned) == [others[0]["number"]], warned.metadata
    stack.pvx.assign_tracking(others[0]["number"])
    run_once(stack, rules=no_wait, hinted=(others[0]["number"],))
    assert len(_numbers(stack, other_id)) == 3
    assert _run(tracking_posted, stack.data_dir).passed


def test_a_refused_own_number_does_not_take_the_pooled_parcels_numbers_down_with_it(stack: Stack) -> None:
    """Shopify refused the carrying parcel's own number. A pooled parcel's number that comes later
    was sent with that number again, refused again, and recorded as carried: it never reached
    Shopify and was never offered again (until 2026-12-01). It goes now, without the refused number,
    which stays refused (`tracking_refused` open) until the parcel is relabelled."""
    no_wait = despatch_rules(stack, tracking_wait_minutes=0)
    order_id, packages = _bundle(stack, [True, False, True])
    first, carrier = packages[0]["number"], packages[2]["number"]
    _, done = run_once(stack, rules=no_wait)
    assert (done.fulfilled, done.pooled) == (1, 2), done.summary
    stack.shop.set_faults(FaultSettings(refuse_tracking_numbers=["BAD-NUMBER-1"]))
    stack.pvx.assign_tracking(carrier, "BAD-NUMBER-1")
    _, done = run_once(stack, rules=no_wait, hinted=(carrier,))
    assert done.tracking_refused == 1, done.summary
    late = stack.pvx.assign_tracking(first)
    _, done = run_once(stack, rules=no_wait, hinted=(first,))
    assert (done.tracking_added, done.tracking_refused) == (1, 0), done.summary
    assert _numbers(stack, order_id) == sorted([late, packages[1]["tracking_number"]])
    _, done = run_once(stack, rules=no_wait)
    assert (done.tracking_added, done.tracking_refused) == (0, 0), done.summary  # nothing offered again
    opened = {(e.kind, e.subject) for e in stack.ledger.list_open_exceptions()}
    assert ("tracking_refused", carrier) in opened and ("tracking_missing", first) not in opened
