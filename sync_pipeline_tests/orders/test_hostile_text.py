"""Text Peoplevox could never receive (issue 16, item 1), through the real flow functions
against both sandboxes: it is cleaned from customer fields, a SKU carrying it holds its order
alone, and a row that still cannot be encoded fails alone; no run stops, nothing stays
`injecting`."""

from __future__ import annotations

from datetime import UTC, datetime

from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.translate import translate_order
from sync_pipeline.lib.flows.catalogue import refresh
from sync_pipeline.lib.flows.orders.ingest import ingest
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.lib.flows.orders.release.translations import translation_record
from sync_pipeline.lib.ledger import injections as ledger_injections
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.sandbox.shopify.control import AddressSpec, LineSpec, OrderSpec, ProductSpec, VariantSpec
from sync_pipeline_tests.orders.conftest import Stack

ADDRESS = AddressSpec(name="Ada Lovelace", address1="1 St James's Sq", city="London", zip="SW1Y 4JU")
BAD_SKU = "TEE-BLK-M\x01"


def _states(stack: Stack) -> dict[str, int]:
    with stack.ledger.transaction() as con:
        return ledger_orders.state_counts(con)


def test_200_orders_released_behind_text_peoplevox_cannot_receive(stack: Stack) -> None:
    stack.shop.add_product(ProductSpec(title="Broken", variants=[VariantSpec(sku=BAD_SKU, price="20.00")]))
    refresh(stack.source, stack.warehouse, stack.ledger, stack.rules)
    bad_sku = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku=BAD_SKU)], shipping_address=ADDRESS))
    bad_address = stack.shop.place_order(
        OrderSpec(
            lines=[LineSpec(sku="CAP-NVY")],
            shipping_address=ADDRESS.model_copy(
                update={"address1": "1 St James's Sq\uffff", "city": "Lon\ufffedon"}
            ),
        )
    )
    for n in range(200):
        stack.shop.place_order(
            OrderSpec(lines=[LineSpec(sku="TEE-BLK-M", quantity=1 + n % 3)], shipping_address=ADDRESS)
        )
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    report = release(stack.source, stack.warehouse, stack.ledger, stack.rules, "test", datetime.now(UTC))
    assert (report.injected, report.held, report.failed) == (201, 1, 0), report.summary
    assert _states(stack) == {"in_warehouse": 201, "held": 1}
    [held] = stack.ledger.list_open_exceptions()
    assert held.shopify_order_id == bad_sku["id"] and held.kind == "unmapped_sku"
    assert "SKU 'TEE-BLK-M\\x01' contains the character U+0001" in held.message
    cleaned = next(
        o for o in stack.pvx.state().orders if o.number.endswith(bad_address["id"].rsplit("/", 1)[1])
    )
    assert (cleaned.fields["ShippingAddressLine1"], cleaned.fields["ShippingAddressCity"]) == (
        "1 St James's Sq",
        "London",
    )


def test_a_row_that_still_cannot_be_encoded_fails_alone_and_never_stays_injecting(stack: Stack) -> None:
    """A `sending` record written before the cleaning existed (or by any future path that skips
    it) is resent by in-doubt resolution: it must fail alone, naming the field."""
    refresh(stack.source, stack.warehouse, stack.ledger, stack.rules)
    for _ in range(3):
        stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="TEE-BLK-M")], shipping_address=ADDRESS))
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    with stack.ledger.transaction() as con:
        [first, *_] = ledger_orders.ids_in_state(con, ["awaiting_release"])
        row = ledger_orders.get_many(con, [first])[first]
    # What an older release wrote ahead for this order, with the raw address line.
    translated = translate_order(ShopOrder.model_validate(row.snapshot), stack.rules, {"TEE-BLK-M"})
    header, items = translation_record(translated)  # type: ignore[arg-type]
    header["header"]["ShippingAddressLine1"] = "1 St James's Sq\uffff"
    with stack.ledger.transaction() as con:
        ledger_injections.mark_sending(con, [(row.sales_order_number, first, header, items)], run_id="old")
        ledger_orders.set_fields(con, first, state="injecting")
    report = release(stack.source, stack.warehouse, stack.ledger, stack.rules, "test", datetime.now(UTC))
    assert report.injected == 2 and report.failed == 1, report.summary
    assert _states(stack) == {"in_warehouse": 2, "injection_failed": 1}
    [failed] = stack.ledger.list_open_exceptions()
    assert failed.shopify_order_id == first
    assert "ShippingAddressLine1 contains the character U+FFFF" in failed.message
