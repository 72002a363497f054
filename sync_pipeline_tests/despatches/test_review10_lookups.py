"""A reviewer's attacks on the despatches flow (session 10): the in-doubt lookup after a lost answer.

Each test drives both sandboxes over real HTTP (the Shopify sandbox applies the mutation, then
loses its answer: `lose_answer_next`) and checks Shopify and the ledger afterwards.
"""

from __future__ import annotations

from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec, ProductSpec, VariantSpec
from sync_pipeline_tests.despatches.helpers import (
    UK,
    add_bundle_catalogue,
    despatch_rules,
    emails_for,
    into_warehouse,
    run_once,
)
from sync_pipeline_tests.orders.conftest import Stack


def _open(stack: Stack, kind: str) -> set[str]:
    return {e.subject for e in stack.ledger.list_open_exceptions() if e.kind == kind}


def _numbers_in_shopify(stack: Stack, order_id: str) -> list[str]:
    return [
        t["number"]
        for f in stack.shop.get_order(order_id)["fulfillments"]
        for t in f["tracking"]
        if t["number"]
    ]


def test_a_pooled_parcels_missing_tracking_closes_when_a_lookup_finds_the_fulfilment_carrying_it(
    stack: Stack,
) -> None:
    """A bundle shipped in three parcels; the first went without a number past the wait
    (`tracking_missing`, pooled). Its number arrives, the last parcel completes the bundle and its
    fulfilment carries every number, but Shopify's answer is lost. The next run's lookup finds the
    fulfilment, numbers included; the answer path closes each carried parcel's `tracking_missing`,
    the lookup path did not, and nothing else ever closes it (the late-tracking step sees the number
    carried already; the ops re-check looks for the pooled package's own fulfilment, which it has
    none of): warehouse ops chase a number Shopify shows."""
    add_bundle_catalogue(stack)
    order = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="BUNDLE-STARTER")], shipping_address=UK))
    order_id, sales_order = order["id"], into_warehouse(stack)[order["id"]]
    early = stack.pvx.despatch(sales_order, [{"TEE-BLK-M": 1}, {"TEE-WHT-M": 1}], late_tracking=[True, False])
    first = early["packages"][0]["number"]
    no_wait = despatch_rules(stack, tracking_wait_minutes=0)
    _, done = run_once(stack, rules=no_wait)
    assert done.pooled == 2 and first in _open(stack, "tracking_missing"), done.summary
    number = stack.pvx.assign_tracking(first)
    stack.pvx.despatch(sales_order, [{"SOCK-BLK-OS": 2}])
    stack.shop.set_faults(FaultSettings(lose_answer_next=1))
    _, done = run_once(stack, rules=no_wait, hinted=(first,))
    assert (done.fulfilled, done.outcome_unknown) == (0, 1), done.summary
    stack.shop.set_faults(FaultSettings())
    _, done = run_once(stack, rules=no_wait)
    assert done.in_doubt["found_in_shopify"] == 1, done.in_doubt
    assert number in _numbers_in_shopify(stack, order_id)  # Shopify shows the parcel's number...
    assert len(emails_for(stack, order_id)) == 1
    assert first not in _open(stack, "tracking_missing")  # ...so nobody should chase it


def _parts(stack: Stack, count: int) -> list[str]:
    codes = [f"PART-{i:02d}" for i in range(count)]
    for code in codes:
        stack.shop.add_product(ProductSpec(title=code, variants=[VariantSpec(sku=code, price="1")]))
    stack.pvx.seed_items([(code, f"59{i:011d}", code) for i, code in enumerate(codes)])
    stack.pvx.set_stock([(code, "PrimarySite", 100) for code in codes])
    return codes


def test_a_lost_answer_on_an_order_with_more_than_twenty_fulfilments_is_found(stack: Stack) -> None:
    """A B2B order of 22 cartons shipped one a package: twenty go, then the 21st's answer is lost.
    The lookup read only the order's first 20 fulfilments (oldest first), so it did not see the
    21st: the package was sent again (two fulfilments, two shipping emails for one parcel), took
    the room left for the 22nd, and the 22nd was recorded as "fulfilled by hand", its tracking
    number never in Shopify."""
    order = stack.shop.place_order(
        OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=22)], shipping_address=UK)
    )
    order_id, sales_order = order["id"], into_warehouse(stack)[order["id"]]
    first = stack.pvx.despatch(sales_order, [{"CAP-NVY": 1}] * 20)
    _, done = run_once(stack)
    assert done.fulfilled == 20, done.summary
    lost = stack.pvx.despatch(sales_order, [{"CAP-NVY": 1}])
    stack.shop.set_faults(FaultSettings(lose_answer_next=1))
    _, done = run_once(stack)
    assert done.outcome_unknown == 1, done.summary
    stack.shop.set_faults(FaultSettings())
    last = stack.pvx.despatch(sales_order, [{"CAP-NVY": 1}])
    run_once(stack)
    run_once(stack)
    parcels = [p["tracking_number"] for d in (first, lost, last) for p in d["packages"]]
    shown = _numbers_in_shopify(stack, order_id)
    assert sorted(shown) == sorted(parcels)  # each parcel's number once, none missing
    assert len(emails_for(stack, order_id)) == 22
    with stack.ledger.transaction() as con:
        states_ = dict(con.execute("SELECT state, count(*) FROM despatch_packages GROUP BY state").fetchall())
    assert states_ == {"fulfilled": 22}, states_


def test_a_lost_answer_for_a_package_of_more_than_twenty_lines_is_found(stack: Stack) -> None:
    """A wholesale order of 21 products, two of each, shipped in two cartons of one of each. The
    first carton's answer is lost; its fulfilment's lines were read 20 at most, so its quantities
    never equalled what was sent: sent again (second email), and the second carton was then
    recorded as fulfilled by hand, its tracking number never in Shopify."""
    codes = _parts(stack, 21)
    order = stack.shop.place_order(
        OrderSpec(lines=[LineSpec(sku=c, quantity=2) for c in codes], shipping_address=UK)
    )
    order_id, sales_order = order["id"], into_warehouse(stack)[order["id"]]
    one_of_each = {c: 1 for c in codes}
    first = stack.pvx.despatch(sales_order, [one_of_each])
    stack.shop.set_faults(FaultSettings(lose_answer_next=1))
    _, done = run_once(stack)
    assert done.outcome_unknown == 1, done.summary
    stack.shop.set_faults(FaultSettings())
    second = stack.pvx.despatch(sales_order, [one_of_each])
    run_once(stack)
    run_once(stack)
    parcels = [p["tracking_number"] for d in (first, second) for p in d["packages"]]
    assert sorted(_numbers_in_shopify(stack, order_id)) == sorted(parcels)
    assert len(emails_for(stack, order_id)) == 2
