"""A reviewer's attacks on the despatches flow (session 10): late tracking updates that Shopify
does not take, over real HTTP against both sandboxes and a real ledger file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync_pipeline.lib.domain.tracking import Tracking, carrying
from sync_pipeline.lib.flows.despatches.read import CURSOR, read_despatches
from sync_pipeline.lib.flows.despatches.run import fulfil
from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import (
    UK,
    despatch_rules,
    emails_for,
    into_warehouse,
    ports,
    run_once,
)
from sync_pipeline_tests.despatches.test_review_lookups_and_edits import Rewritten
from sync_pipeline_tests.orders.conftest import Stack


def _numbers(stack: Stack, order_id: str) -> list[str]:
    return [
        t["number"]
        for f in stack.shop.get_order(order_id)["fulfillments"]
        for t in f["tracking"]
        if t["number"]
    ]


def test_a_tracking_update_throttled_until_the_client_gives_up_is_left_for_the_next_run(stack: Stack) -> None:
    """At a peak Shopify can answer every attempt of a `fulfillmentTrackingInfoUpdate` 429. The
    fulfilment and the move were made to survive that (the package goes back to `pending`); the
    tracking update raised out of the step: the run failed after its fulfilments were recorded, no
    `caught_up=False` told the sensor to go again, and since updates go oldest first, one update
    Shopify keeps refusing this way fails every run before any later number is added."""
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))["id"]
    despatch = stack.pvx.despatch(into_warehouse(stack)[oid], [{"CAP-NVY": 1}], late_tracking=[True])
    package = despatch["packages"][0]["number"]
    rules = despatch_rules(stack, tracking_wait_minutes=0)
    _, done = run_once(stack, rules=rules)
    assert done.fulfilled == 1 and _numbers(stack, oid) == [], done.summary
    number = stack.pvx.assign_tracking(package)
    read_despatches(
        ports(stack).source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2), hinted=(package,)
    )
    stack.shop.set_faults(FaultSettings(rate_limit_429_next=50, retry_after_seconds=0.01))
    try:
        done = fulfil(ports(stack).storefront, stack.ledger, rules, "test", settle_seconds=0.0)
    finally:
        stack.shop.set_faults(FaultSettings())
    assert done.caught_up is False and done.tracking_added == 0, done.summary
    done = fulfil(ports(stack).storefront, stack.ledger, rules, "test", settle_seconds=0.0)
    assert done.tracking_added == 1 and _numbers(stack, oid) == [number], done.summary
    assert len(emails_for(stack, oid)) == 1


def test_a_relabel_to_another_carrier_shows_that_carriers_name_and_link(stack: Stack) -> None:
    """A Royal Mail parcel is relabelled with DPD (the carrier changed at the dock): Peoplevox
    re-reports the package with carrier DPD and DPD's number. The read took the number and kept
    Royal Mail, so the update showed a DPD consignment number as Royal Mail with a Royal Mail link
    that finds nothing: the customer cannot track the parcel."""
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))["id"]
    despatch = stack.pvx.despatch(into_warehouse(stack)[oid], [{"CAP-NVY": 1}])
    package = despatch["packages"][0]["number"]
    _, done = run_once(stack)
    assert done.fulfilled == 1, done.summary
    relabelled = Rewritten(
        stack, package, carrier="DPD", service="Next Day", tracking_number="15501234567890"
    )
    read_despatches(relabelled, stack.ledger, "test", datetime.now(UTC), timedelta(days=2), hinted=(package,))
    done = fulfil(ports(stack).storefront, stack.ledger, stack.rules, "test", settle_seconds=0.0)
    assert done.tracking_added == 1, done.summary
    (fulfilment,) = stack.shop.get_order(oid)["fulfillments"]
    assert [(t["company"], t["number"], t["url"]) for t in fulfilment["tracking"]] == [
        ("DPD UK", "15501234567890", "https://track.dpd.co.uk/parcels/15501234567890")
    ]
    assert len(emails_for(stack, oid)) == 1


def test_a_late_number_reaches_shopify_when_its_callback_is_lost(stack: Stack) -> None:
    """The default is to fulfil without a number after `tracking_wait_minutes` and add it when
    Peoplevox has it. But the re-read by number took only packages still open: a fulfilled one
    learned its number from a TrackingNumberReceived callback alone (the range read's overlap is
    3 minutes). Callbacks get lost, which is why a poll runs every 5 minutes; for these packages it
    found nothing: the number never reached Shopify and `tracking_missing` stayed open for good."""
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))["id"]
    despatch = stack.pvx.despatch(into_warehouse(stack)[oid], [{"CAP-NVY": 1}], late_tracking=[True])
    package = despatch["packages"][0]["number"]
    rules = despatch_rules(stack, tracking_wait_minutes=0)
    _, done = run_once(stack, rules=rules)
    assert done.fulfilled == 1 and _numbers(stack, oid) == [], done.summary
    number = stack.pvx.assign_tracking(package)  # its callback never arrives: no hint
    # The poll's runs, long enough after the despatch that the range read no longer covers it.
    stack.ledger.set_cursor(CURSOR, (datetime.now(UTC) + timedelta(minutes=10)).isoformat())
    run_once(stack, rules=rules)
    assert _numbers(stack, oid) == [number]
    assert ("tracking_missing", package) not in {
        (e.kind, e.subject) for e in stack.ledger.list_open_exceptions()
    }
    assert len(emails_for(stack, oid)) == 1


def test_two_parcels_with_one_consignment_number_leave_no_link_beside_another_parcels_number() -> None:
    """Some carriers give every parcel of a despatch the consignment's number. A bundle in three
    parcels: two Royal Mail parcels under one number (pooled) and a courier with no carriers.yaml
    rule (no link) completing it. The number was listed once, its link twice: Shopify pairs
    `urls[i]` with `numbers[i]`, so the courier's number got the Royal Mail link."""
    mail = Tracking("Royal Mail", "RM1", "https://rm/RM1", known_carrier=True)
    courier = Tracking("Courier X", "CX9", None, known_carrier=False)
    both = carrying(courier, (mail, mail))
    assert both is not None
    numbers, urls = both.numbers_and_urls()
    assert numbers == ["RM1", "CX9"]
    assert urls == ["https://rm/RM1"]  # one link, for RM1: none for CX9
