"""A reviewer's attacks on the despatches flow (session 10): what the read takes from Peoplevox.

Both sandboxes over real HTTP, a real ledger file, the real inbox directory the receiver writes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.read import INBOX_CURSOR, hinted_packages, read_despatches
from sync_pipeline.lib.flows.despatches.run import fulfil
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.peoplevox import callbacks
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import (
    UK,
    add_bundle_catalogue,
    emails_for,
    into_warehouse,
    ports,
    run_once,
    shopify_lines,
)
from sync_pipeline_tests.despatches.test_review_lookups_and_edits import NeverReachesShopify, Rewritten
from sync_pipeline_tests.orders.conftest import Stack


def _callback(inbox: Inbox, despatch_number: str) -> None:
    """A TrackingNumberReceived callback as the receiver stores it (`receiver/app.py`)."""
    params = {callbacks.DESPATCH_NUMBER: despatch_number, callbacks.TRACKING_NUMBER: "RM000000001GB"}
    event = {"event": "TrackingNumberReceived", "params": params, "unfilled": callbacks.unfilled(params)}
    inbox.write("peoplevox", event, dedupe_key=callbacks.dedupe_key("TrackingNumberReceived", params))


def test_a_callback_naming_a_number_no_clause_can_carry_does_not_stop_the_reads(stack: Stack) -> None:
    """Callbacks are hints, but one whose despatch number cannot be put in a report clause (a
    backslash, a control character: `clauses.check_string` refuses both) made the by-number re-read
    raise. The asset sets the inbox cursor only after the read, so the same callback is read again by
    every run: the despatches read fails for good and no package reaches Shopify."""
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))["id"]
    despatch = stack.pvx.despatch(into_warehouse(stack)[oid], [{"CAP-NVY": 1}])
    inbox = Inbox(stack.data_dir / "inbox")
    _callback(inbox, "DES\\00001")
    _callback(inbox, despatch["packages"][0]["number"])
    for _ in range(2):  # as the asset does, run after run
        hinted, last = hinted_packages(inbox, stack.ledger)
        read_despatches(
            ports(stack).source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2), hinted=hinted
        )
        if last:
            stack.ledger.set_cursor(INBOX_CURSOR, last)
        fulfil(ports(stack).storefront, stack.ledger, stack.rules, "test", settle_seconds=0.0)
    assert shopify_lines(stack, oid) == {"CAP-NVY": 1}
    assert len(emails_for(stack, oid)) == 1


def test_a_pooled_parcel_reported_again_with_the_rest_of_its_bundle_is_fulfilled(stack: Stack) -> None:
    """The report was read while a package's rows were still being written (or Peoplevox corrected
    the package): it read as two of the bundle's three components, so it was `pooled` (completes no
    line yet). Read again whole, it completes the bundle. A pooled package is `SETTLED`, not
    replaceable, so the new lines were dropped with `despatch_changed_after_fulfilment` ("it went to
    Shopify as…", which it never did): the parcel left the warehouse, the customer is never told, and
    no run ever fulfils it."""
    add_bundle_catalogue(stack)
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="BUNDLE-STARTER")], shipping_address=UK))["id"]
    despatch = stack.pvx.despatch(into_warehouse(stack)[oid], [{"TEE-BLK-M": 1, "TEE-WHT-M": 1}])
    package = despatch["packages"][0]["number"]
    _, done = run_once(stack)
    assert done.pooled == 1, done.summary
    whole = Rewritten(stack, package, items={"TEE-BLK-M": 1, "TEE-WHT-M": 1, "SOCK-BLK-OS": 2})
    read_despatches(whole, stack.ledger, "test", datetime.now(UTC), timedelta(days=2), hinted=(package,))
    fulfil(ports(stack).storefront, stack.ledger, stack.rules, "test", settle_seconds=0.0)
    with stack.ledger.transaction() as con:
        row = ledger_despatches.get_many(con, [package])[package]
    assert row.state == states.FULFILLED, (row.state, row.state_reason)
    assert shopify_lines(stack, oid) == {"BUNDLE-STARTER": 1}
    assert len(emails_for(stack, oid)) == 1
    assert "despatch_changed_after_fulfilment" not in {e.kind for e in stack.ledger.list_open_exceptions()}


def test_lines_corrected_while_a_send_is_in_doubt_are_the_ones_fulfilled_if_it_never_reached_shopify(
    stack: Stack,
) -> None:
    """Peoplevox corrects a package (two caps → a cap and a mug) while its fulfilment's answer is
    lost. It was treated as sent: the new lines were dropped with `despatch_changed_after_fulfilment`
    ("it went to Shopify as 2 × CAP-NVY"). The lookup then found nothing in Shopify, so the package
    was planned again with the old lines: Shopify shows two caps fulfilled, the mug that left the
    warehouse unfulfilled, and ops are told to fix a fulfilment by hand that the flow made wrong
    after it knew better."""
    oid = stack.shop.place_order(
        OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=2), LineSpec(sku="MUG-LOGO")], shipping_address=UK)
    )["id"]
    package = stack.pvx.despatch(into_warehouse(stack)[oid], [{"CAP-NVY": 2}])["packages"][0]["number"]
    lost = NeverReachesShopify(stack)
    _, done = run_once(stack, storefront=lost, settle=60.0)
    assert done.outcome_unknown == 1, done.summary
    corrected = Rewritten(stack, package, items={"CAP-NVY": 1, "MUG-LOGO": 1})
    read_despatches(corrected, stack.ledger, "test", datetime.now(UTC), timedelta(days=2), hinted=(package,))
    fulfil(ports(stack).storefront, stack.ledger, stack.rules, "test", settle_seconds=0.0)
    assert shopify_lines(stack, oid) == {"CAP-NVY": 1, "MUG-LOGO": 1}
    assert len(emails_for(stack, oid)) == 1
    assert "despatch_changed_after_fulfilment" not in {e.kind for e in stack.ledger.list_open_exceptions()}
