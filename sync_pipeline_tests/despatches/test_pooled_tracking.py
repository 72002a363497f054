"""Pooled parcels (bundle parts a later package completes) reach Shopify: the fulfilment that
completes the bundle carries every parcel's tracking number, against both sandboxes."""

from __future__ import annotations

from typing import Any

from sync_pipeline.lib.domain.tracking import Tracking, carrying
from sync_pipeline.lib.ledger import rehearsal as ledger_rehearsal
from sync_pipeline.rehearsal import accounting
from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import (
    UK,
    add_bundle_catalogue,
    despatch_rules,
    emails_for,
    into_warehouse,
    run_once,
)
from sync_pipeline_tests.orders.conftest import Stack

# The bundle BUNDLE-STARTER shipped in three parcels: the first two complete no line (pooled).
PARTS = [{"TEE-BLK-M": 1}, {"TEE-WHT-M": 1}, {"SOCK-BLK-OS": 2}]


def _bundle_order(stack: Stack) -> tuple[str, str]:
    add_bundle_catalogue(stack)
    order = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="BUNDLE-STARTER")], shipping_address=UK))
    return order["id"], into_warehouse(stack)[order["id"]]


def _numbers(fulfilment: dict[str, Any]) -> list[str]:
    return [t["number"] for t in fulfilment["tracking"] if t["number"]]


def _tracking_missing(stack: Stack) -> set[str]:
    return {e.subject for e in stack.ledger.list_open_exceptions() if e.kind == "tracking_missing"}


def test_the_fulfilment_completing_a_bundle_carries_every_parcels_tracking(stack: Stack) -> None:
    order_id, sales_order = _bundle_order(stack)
    despatch = stack.pvx.despatch(sales_order, PARTS)
    parcels = [p["tracking_number"] for p in despatch["packages"]]
    _, done = run_once(stack)
    assert (done.fulfilled, done.pooled) == (1, 2), done.summary
    (fulfilment,) = stack.shop.get_order(order_id)["fulfillments"]
    assert sorted(_numbers(fulfilment)) == sorted(parcels)
    # One carrier; each parcel's own link, paired with its number.
    assert {t["company"] for t in fulfilment["tracking"]} == {"Royal Mail"}
    assert all(t["number"] in t["url"] for t in fulfilment["tracking"])
    assert len(emails_for(stack, order_id)) == 1  # one shipping email for the one fulfilment
    numbers = [n for f in stack.shop.get_order(order_id)["fulfillments"] for n in _numbers(f)]
    tally = accounting.fulfilments(parcels, numbers)
    assert (tally.lost, tally.duplicated) == (0, 0), tally.examples
    with stack.ledger.transaction() as con:
        carried = con.execute(
            "SELECT carried_by, carried_number FROM despatch_packages WHERE carried_by IS NOT NULL "
            "ORDER BY package_number"
        ).fetchall()
    last = despatch["packages"][2]["number"]
    assert carried == [(last, parcels[0]), (last, parcels[1])]
    # The rehearsal's drain and despatch latency see every parcel fulfilled, the pooled at the carrier's time.
    with stack.ledger.transaction() as con:
        fulfilled = ledger_rehearsal.packages_fulfilled(con)
    numbers = [p["number"] for p in despatch["packages"]]
    assert [fulfilled[n].carried_by for n in numbers] == [last, last, None]
    assert len({fulfilled[n].at for n in numbers}) == 1
    _, done = run_once(stack)  # nothing more to send
    assert (done.fulfilled, done.tracking_added) == (0, 0) and len(stack.shop.emails()) == 1


def test_a_pooled_parcels_late_number_is_added_with_all_the_others(stack: Stack) -> None:
    order_id, sales_order = _bundle_order(stack)
    despatch = stack.pvx.despatch(sales_order, PARTS, late_tracking=[True, False, False])
    first = despatch["packages"][0]["number"]
    no_wait = despatch_rules(stack, tracking_wait_minutes=0)
    _, done = run_once(stack, rules=no_wait)
    assert (done.fulfilled, done.pooled) == (1, 2), done.summary
    (fulfilment,) = stack.shop.get_order(order_id)["fulfillments"]
    on_time = [p["tracking_number"] for p in despatch["packages"][1:]]
    assert sorted(_numbers(fulfilment)) == sorted(on_time)
    assert first in _tracking_missing(stack)
    late = stack.pvx.assign_tracking(first)
    read, done = run_once(stack, rules=no_wait, hinted=(first,))
    assert (read.tracking_added, done.tracking_added) == (1, 1), done.summary
    (fulfilment,) = stack.shop.get_order(order_id)["fulfillments"]
    assert sorted(_numbers(fulfilment)) == sorted([late, *on_time])  # the update kept the others
    assert first not in _tracking_missing(stack)
    assert [e["kind"] for e in emails_for(stack, order_id)] == ["shipping_confirmation"]
    _, done = run_once(stack, rules=no_wait)
    assert done.tracking_added == 0  # not sent again


def test_a_pooled_parcels_number_that_arrives_before_the_bundle_completes_goes_with_it(stack: Stack) -> None:
    order_id, sales_order = _bundle_order(stack)
    early = stack.pvx.despatch(sales_order, PARTS[:2], late_tracking=[True, False])
    first = early["packages"][0]["number"]
    no_wait = despatch_rules(stack, tracking_wait_minutes=0)
    _, done = run_once(stack, rules=no_wait)
    assert (done.fulfilled, done.pooled) == (0, 2) and first in _tracking_missing(stack), done.summary
    number = stack.pvx.assign_tracking(first)
    last = stack.pvx.despatch(sales_order, PARTS[2:])
    _, done = run_once(stack, rules=no_wait, hinted=(first,))
    assert done.fulfilled == 1, done.summary
    (fulfilment,) = stack.shop.get_order(order_id)["fulfillments"]
    parcels = [number, early["packages"][1]["tracking_number"], last["packages"][0]["tracking_number"]]
    assert sorted(_numbers(fulfilment)) == sorted(parcels)
    assert first not in _tracking_missing(stack)  # Shopify has its number now


def test_a_lost_answer_for_a_carrying_fulfilment_is_found_not_sent_again(stack: Stack) -> None:
    order_id, sales_order = _bundle_order(stack)
    despatch = stack.pvx.despatch(sales_order, PARTS)
    stack.shop.set_faults(FaultSettings(lose_answer_next=1))
    _, done = run_once(stack)
    assert (done.fulfilled, done.outcome_unknown, done.pooled) == (0, 1, 2), done.summary
    _, done = run_once(stack)
    assert done.in_doubt == {"found_in_shopify": 1} and done.fulfilled == 0, done.summary
    (fulfilment,) = stack.shop.get_order(order_id)["fulfillments"]
    assert sorted(_numbers(fulfilment)) == sorted(p["tracking_number"] for p in despatch["packages"])
    assert len(emails_for(stack, order_id)) == 1


def test_one_carrier_per_fulfilment_and_links_stay_paired_with_their_numbers() -> None:
    own = Tracking("DPD", "DPD1", None, known_carrier=False)
    pooled = (
        Tracking("Royal Mail", "RM1", "https://rm/RM1", known_carrier=True),
        Tracking(None, None, None, known_carrier=True),  # no number yet
    )
    both = carrying(own, pooled)
    assert both is not None and both.company == "DPD"  # the completing parcel's carrier
    assert both.numbers_and_urls() == (["RM1", "DPD1"], ["https://rm/RM1"])
    nameless = carrying(Tracking(None, "X1", None, known_carrier=True), pooled)
    assert nameless is not None and nameless.company == "Royal Mail"
    assert carrying(own, ()) is own
