"""Issue 14's breaker review over real HTTP: hostile text, faults mid-batch and lost answers on
both injections and updates, through the real clients, flow functions and both sandboxes.

After each scenario the ledger must agree with Peoplevox field by field and line by line, and
nothing may have been created twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sync_pipeline.lib.domain.cutoff import UPDATABLE_HEADER_COLUMNS
from sync_pipeline.lib.flows.catalogue import refresh
from sync_pipeline.lib.flows.orders.ingest import ingest
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.lib.flows.orders.release.report import ReleaseReport
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.shopify.control import (
    AddressSpec,
    EditSpec,
    LineSpec,
    OrderSpec,
    ProductSpec,
    QuantityChange,
    VariantSpec,
)
from sync_pipeline_tests.orders.conftest import Stack

ADDRESS = AddressSpec(name="Ada Lovelace", address1="1 St James's Sq", city="London", zip="SW1Y 4JU")
# An item code with every XML and CSV special a SKU may carry (Peoplevox has it as typed).
HOSTILE_SKU = 'TEE&<"B>,]]>'


def _release(stack: Stack) -> ReleaseReport:
    return release(stack.source, stack.warehouse, stack.ledger, stack.rules, "test", datetime.now(UTC))


def _ingest(stack: Stack) -> None:
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))


def ledger_agrees_with_peoplevox(stack: Stack) -> dict[str, str]:
    """Every sales order in Peoplevox is one the ledger accepted, holding exactly the items and
    updatable header values the ledger records; returns sales order number → order state."""
    pvx = {o.number: o for o in stack.pvx.state().orders}
    with stack.ledger.transaction() as con:
        records = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT i.sales_order_number, i.state, i.header, i.items, o.state FROM pvx_injections i "
                "JOIN orders o ON o.shopify_order_id = i.shopify_order_id"
            ).fetchall()
        }
    from json import loads

    assert set(pvx) <= set(records), f"in Peoplevox, unknown to the ledger: {set(pvx) - set(records)}"
    states: dict[str, str] = {}
    for number, order in pvx.items():
        injection_state, header, items, order_state = records[number]
        assert injection_state == "accepted", (number, injection_state)
        codes = [line.item_code for line in order.lines]
        assert len(codes) == len(set(codes)), f"{number} has an item twice: {codes}"
        held = {line.item_code: line.quantity_ordered for line in order.lines}
        assert {i["ItemCode"]: i["QuantityOrdered"] for i in loads(items)} == held, number
        recorded = loads(header)["header"]
        for column in UPDATABLE_HEADER_COLUMNS:
            expected = recorded[column]
            actual = {
                "ServiceType": order.service_type,
                "Site": order.site,
                "ChannelName": order.channel,
            }.get(column, order.fields.get(column))
            assert actual == expected, (number, column, actual, expected)
        states[number] = order_state
    return states


def test_hostile_text_reaches_peoplevox_as_the_ledger_records_it(stack: Stack) -> None:
    stack.shop.add_product(
        ProductSpec(title="Hostile", variants=[VariantSpec(sku=HOSTILE_SKU, price="9.00")])
    )
    stack.pvx.seed_items([(HOSTILE_SKU, "5000000000999", "Hostile & <odd>")])
    stack.pvx.set_stock([(HOSTILE_SKU, "PrimarySite", 50)])
    refresh(stack.source, stack.warehouse, stack.ledger, stack.rules)
    hostile = AddressSpec(
        name='=HYPERLINK("http://x")&<b>',
        company="O'Brien & Söhne <GmbH> ]]>",
        address1='1 "Quoted" St & <Lane> ]]> 🚚',
        address2="\u202eevil\u202c שלום مرحبا \x00tail",
        city="+44 Town\r\nNext line\tTab",
        province_code="ENG",
        zip="N1 9GU",
    )
    bad = stack.shop.place_order(
        OrderSpec(
            lines=[LineSpec(sku=HOSTILE_SKU, quantity=2), LineSpec(sku="TEE-BLK-M")],
            shipping_address=hostile,
            email='"odd&<>"@example.com',
            note="]]></CsvData><Evil/> =cmd|' /C calc'!A0",
            tags=["a&b", "<c>", "=1+1"],
            customer_tags=["]]>"],
        )
    )
    too_long = stack.shop.place_order(
        OrderSpec(
            lines=[LineSpec(sku="TEE-BLK-M")],
            shipping_address=ADDRESS.model_copy(update={"address2": "Flat 1 " + "long " * 400}),
        )
    )
    for _ in range(3):
        stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="TEE-BLK-M")], shipping_address=ADDRESS))
    _ingest(stack)
    report = _release(stack)
    assert (report.injected, report.failed, report.held) == (4, 0, 1), report.summary
    [held] = stack.ledger.list_open_exceptions()  # held alone, saying which field and why
    assert (held.shopify_order_id, held.kind) == (too_long["id"], "bad_address")
    assert "address line 2 is 2006 characters; the limit is 100" in held.message, held.message
    assert set(ledger_agrees_with_peoplevox(stack).values()) == {"in_warehouse"}
    with stack.ledger.transaction() as con:
        number = ledger_orders.get_many(con, [bad["id"]])[bad["id"]].sales_order_number
    [order] = [o for o in stack.pvx.state().orders if o.number == number]
    assert {line.item_code: line.quantity_ordered for line in order.lines} == {HOSTILE_SKU: 2, "TEE-BLK-M": 1}
    fields = order.fields
    assert fields["ContactName"] == "'=HYPERLINK(\"http://x\")&<b>, O'Brien & Söhne <GmbH> ]]>"
    assert fields["ShippingAddressLine1"] == '1 "Quoted" St & <Lane> ]]> 🚚'
    assert fields["ShippingAddressLine2"] == "evil שלום مرحبا tail"  # no bidi override, no NUL
    assert fields["ShippingAddressCity"] == "'+44 Town Next line Tab"  # breaks gone; not a phone number
    assert fields["Email"] == '"odd&<>"@example.com'


def test_faults_mid_batch_converge_with_nothing_created_twice(stack: Stack) -> None:
    """A save that applies half its rows then faults (soap:Server), sessions that expire every
    few calls, a 500 before anything is done, and a limiter refusing, all mid-batch."""
    refresh(stack.source, stack.warehouse, stack.ledger, stack.rules)
    stack.rules = stack.rules.with_orders(injection_batch_rows=4)
    placed = [
        stack.shop.place_order(
            OrderSpec(
                lines=[LineSpec(sku="TEE-BLK-M", quantity=1 + n % 2), LineSpec(sku="CAP-NVY")],
                shipping_address=ADDRESS,
            )
        )
        for n in range(10)
    ]
    # Shopify answers 429 mid-read: the client waits Retry-After and the read goes on.
    stack.shop.set_faults(FaultSettings(rate_limit_429_next=2, retry_after_seconds=0.2))
    _ingest(stack)
    with stack.ledger.transaction() as con:
        assert ledger_orders.state_counts(con) == {"awaiting_release": len(placed)}
    stack.pvx.set_faults(server_fault_after_save_next=1, session_max_calls=4)
    # A limiter stricter than the client was told (a tenant's limit lowered): refusals mid-batch.
    stack.pvx.configure(requests_per_window=3, window_seconds=0.5, limit_shape="detail")
    first = _release(stack)
    stack.pvx.configure(requests_per_window=1000, window_seconds=1.0)
    assert first.outcome_unknown >= 1, first.summary
    stack.pvx.set_faults(error_next=1, session_max_calls=3)
    _release(stack)
    stack.pvx.clear_faults()
    _release(stack)
    states = ledger_agrees_with_peoplevox(stack)
    assert len(states) == len(placed) and set(states.values()) == {"in_warehouse"}
    for order in stack.pvx.state().orders:
        assert {line.item_code for line in order.lines} == {"TEE-BLK-M", "CAP-NVY"}
    # Each header went out once, or twice when its first save's answer was lost half-way.
    counters = stack.pvx.state().counters
    assert counters.save_rows["Sales orders"] <= len(placed) + 4
    assert counters.limiter_refused > 0  # the limiter did refuse mid-batch


def test_a_lost_answer_on_an_update_is_adopted_not_pushed_twice(stack: Stack) -> None:
    refresh(stack.source, stack.warehouse, stack.ledger, stack.rules)
    placed = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="TEE-BLK-M")], shipping_address=ADDRESS))
    _ingest(stack)
    _release(stack)
    [number] = [o.number for o in stack.pvx.state().orders]

    def lose_the_answer_to_the_push() -> None:
        _ingest(stack)
        saves = stack.pvx.state().counters.save_calls_total
        stack.pvx.set_faults(drop_after_save_next=1)  # applied, the answer cut half-way
        lost = _release(stack)
        assert lost.outcome_unknown == 1, lost.summary
        assert stack.pvx.state().counters.save_calls_total == saves + 1
        return saves + 1

    # A header change (the address) whose answer is lost: read back, not pushed again.
    stack.shop.edit_order(
        placed["id"], EditSpec(shipping_address=ADDRESS.model_copy(update={"address1": "12 Baker St"}))
    )
    saves = lose_the_answer_to_the_push()
    assert _release(stack).in_doubt_resolved == {"found_in_peoplevox": 1}
    assert stack.pvx.state().counters.save_calls_total == saves
    assert stack.pvx.state().order(number).fields["ShippingAddressLine1"] == "12 Baker St"
    assert ledger_agrees_with_peoplevox(stack) == {number: "in_warehouse"}

    # Items raised and added, the answer lost, and the floor moves past the cut-off before the
    # next run: Peoplevox has what Shopify wants, so there is nothing for CX.
    [line] = stack.shop.get_order(placed["id"])["line_items"]
    stack.shop.edit_order(
        placed["id"],
        EditSpec(
            set_quantities=[QuantityChange(line_item_id=line["id"], quantity=3)],
            add_lines=[LineSpec(sku="MUG-LOGO")],
        ),
    )
    saves = lose_the_answer_to_the_push()
    stack.pvx.force_status(number, "Allocated")
    assert _release(stack).in_doubt_resolved == {"found_in_peoplevox": 1}
    assert stack.pvx.state().counters.save_calls_total == saves
    assert ledger_agrees_with_peoplevox(stack) == {number: "in_warehouse"}
    assert {line.item_code: line.quantity_ordered for line in stack.pvx.state().order(number).lines} == {
        "TEE-BLK-M": 3,
        "MUG-LOGO": 1,
    }
    assert stack.ledger.list_open_exceptions() == []
