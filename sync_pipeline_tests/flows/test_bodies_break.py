"""Webhook bodies that would record an order differently from a read by id of the same version
(review of session 8's ingest from bodies). Each test drives the real body step over a real inbox
and ledger; the body is the REST payload Shopify documents for the case."""

from __future__ import annotations

from pathlib import Path

from sync_pipeline.lib.flows.orders.bodies import record_bodies
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline_tests.domain.factories import GOOD_ADDRESS, T0
from sync_pipeline_tests.flows.standins.rest import rest_body
from sync_pipeline_tests.flows.standins.world import World
from sync_pipeline_tests.flows.test_ingest import RULES, rows
from sync_pipeline_tests.flows.test_ingest_bodies import NOW, TaggingShopify, by_id, hook, shop_order


def test_a_body_whose_only_shipping_line_was_removed_is_read_by_id(tmp_path: Path) -> None:
    """Since API 2024-04 an order edit can remove a shipping line; REST (and so every order
    webhook) keeps returning it, marked `is_removed: true`, while GraphQL's `shippingLines` leaves
    it out. The body must not route the order on a shipping method it no longer has."""
    ledger, inbox = Ledger(tmp_path / "ledger.duckdb"), Inbox(tmp_path / "inbox")
    express = shop_order(1, shipping_line_code="EXP", shipping_line_title="Express")
    edited = express.model_copy(
        update={"shipping_line_code": None, "shipping_line_title": None, "updated_at": express.updated_at}
    )
    shop = TaggingShopify(edited)
    body = rest_body(edited, customer=False)
    body["shipping_lines"] = [{"code": "EXP", "title": "Express", "is_removed": True}]
    hook(inbox, "orders/updated", body, "a")
    report = record_bodies(inbox, ledger, RULES, "test", NOW)
    assert (report.recorded, report.left_to_read["body refused"]) == (0, 1)
    assert by_id(ledger, inbox, shop) == 1
    snapshot = rows(ledger, 1)[1].snapshot
    assert snapshot is not None
    assert (snapshot["shipping_line_code"], snapshot["shipping_line_title"]) == (None, None)


def test_an_order_moved_to_another_customer_in_its_hold_is_routed_on_that_customers_tags(
    tmp_path: Path,
) -> None:
    """Staff move an order to another customer during its hold (`orderCustomerSet`, 2026-10): the
    version moves and Shopify sends `orders/updated`, whose body names the customer by id only (no
    body carries customer tags since 2025-01). The ledger held the first customer's tags, on which
    the example config routes to the Wholesale site; a read by id of the new version has the new
    customer's, and release must route on those."""
    assert RULES.routing.reads_customer_tags
    world = World(tmp_path, T0, hold_seconds=30)
    oid = world.shop.place([("TEE-BLK-M", 1)], customer_tags=("wholesale",))
    world.ingest()  # the poll reads it in full, the first customer's tags with it
    world.tick(5)
    world.shop.change(oid, customer_tags=("retail",))
    world.tick(10)
    assert world.ingest_notified() == 0  # recorded from the body of the new version
    world.tick(31)
    assert world.release().injected == 1
    assert world.pvx.header(world.number(oid))["Site"] == "PrimarySite"
    # A duplicate topic of that version later is the version the ledger holds: nothing to read.
    hook(world.inbox, "orders/paid", rest_body(world.shop.orders[oid]), "again")
    assert world.ingest_notified() == 0


def test_an_address_corrected_in_the_second_the_order_was_placed_reaches_the_warehouse(
    tmp_path: Path,
) -> None:
    """An address-validation app corrects the address in the second the order was placed: the
    same `updatedAt`, and its one `orders/updated` webhook is lost. A read by id after that second
    has the corrected address; the `orders/create` body, read just as late, does not."""
    world = World(tmp_path, T0, hold_seconds=30)
    oid = world.shop.place([("TEE-BLK-M", 1)])
    corrected = GOOD_ADDRESS.model_copy(update={"address1": "2 Corrected Road"})
    world.shop.drop_webhooks = True
    world.shop.change(oid, shipping_address=corrected)  # the same second: the same version
    world.shop.drop_webhooks = False
    world.tick(10)
    world.ingest_notified()
    world.ingest()  # the poll: the listing's free fields agree with the body
    world.tick(31)
    assert world.release().injected == 1
    assert world.pvx.header(world.number(oid))["ShippingAddressLine1"] == "2 Corrected Road"


def test_a_body_with_text_that_has_no_utf8_form_does_not_stop_the_body_step(tmp_path: Path) -> None:
    """The receiver stores a signed body whose JSON carries a lone surrogate escape (`\\udc80`:
    valid JSON, no UTF-8 form; `receiver/test_receiver.py`). The ledger cannot store that text:
    recording it failed the whole chunk, every run, and the read step after it never ran."""
    ledger, inbox = Ledger(tmp_path / "ledger.duckdb"), Inbox(tmp_path / "inbox")
    bad, good = shop_order(1), shop_order(2)
    shop = TaggingShopify(bad, good)
    body = rest_body(bad, customer=False)
    body["note_attributes"] = [{"name": "gift_note", "value": "half an emoji \udc80"}]
    hook(inbox, "orders/paid", body, "a")
    hook(inbox, "orders/paid", rest_body(good, customer=False), "b")
    report = record_bodies(inbox, ledger, RULES, "test", NOW)
    assert (report.recorded, report.left_to_read["body refused"]) == (1, 1)
    assert by_id(ledger, inbox, shop) == 1  # Shopify's own copy of the order
    assert set(rows(ledger, 1, 2)) == {1, 2}
