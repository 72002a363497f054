"""A webhook body and a read by id of the same order version record identically in the ledger.

The sandbox renders the body (`payloads.build`, as its dispatcher does) right after a change, and
the orders flow reads the same version by id over HTTP; both are recorded, each in its own ledger,
and must agree row for row, line for line, event for event. Customer tags, which no body carries,
are filled in by the cheap read release makes when routing needs them (`customer_tags.py`);
a B2B order or a bundle component is refused by the mapping and read by id instead.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.flows.orders.customer_tags import fill_customer_tags
from sync_pipeline.lib.flows.orders.observed import record_orders
from sync_pipeline.lib.flows.orders.release.reread import bring_up_to_date
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.flows.orders.webhook_order import BodyRefused, order_from_body
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger import trace as ledger_trace
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.sandbox.server import serve_in_thread
from sync_pipeline.sandbox.shopify.app import create_app
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import (
    CancelSpec,
    CompanySpec,
    EditSpec,
    LineSpec,
    OrderSpec,
    QuantityChange,
    SandboxControl,
    ShippingLineSpec,
)
from sync_pipeline.sandbox.shopify.payloads import build
from sync_pipeline.settings import REPO_ROOT

from .conftest import TOKEN, Sandbox

RULES = load_business_rules(REPO_ROOT / "data" / "config")


@pytest.fixture(scope="module")
def shop() -> Iterator[tuple[Sandbox, ShopifyOrdersSource, Ledger, Ledger]]:
    with ExitStack() as stack:
        app = create_app(ShopifySandboxConfig())
        url = stack.enter_context(serve_in_thread(app))
        control, client = SandboxControl(url), ShopifyClient(url, TOKEN)
        stack.callback(control.close)
        stack.callback(client.close)
        sandbox = Sandbox(url, app.state.sandbox, control, client)
        sandbox.seed()
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        yield (
            sandbox,
            ShopifyOrdersSource(client),
            Ledger(folder / "bodies.duckdb"),
            Ledger(folder / "read.duckdb"),
        )


lines = st.lists(
    st.builds(LineSpec, sku=st.sampled_from(["TEE-S", "TEE-M", "MUG", "GIFT-25", "TEE-S", "MUG", "BUNDLE-BRK"]),
              quantity=st.integers(1, 3)),
    min_size=1, max_size=3,
)  # fmt: skip
specs = st.builds(
    OrderSpec,
    lines=lines,
    financial_status=st.sampled_from(["PAID", "PAID", "PENDING", "AUTHORIZED"]),
    email=st.sampled_from([None, "jane@example.com"]),
    phone=st.sampled_from([None, "+447700900123"]),
    tags=st.lists(st.sampled_from(["vip", "gift", "Rush", "b2b"]), unique=True, max_size=3),
    customer_tags=st.lists(st.sampled_from(["wholesale", "VIP"]), unique=True, max_size=2),
    custom_attributes=st.dictionaries(st.sampled_from(["gift_note", "ref"]), st.text(max_size=5), max_size=2),
    source_name=st.sampled_from(["web", "pos", None]),
    company=st.sampled_from([None, None, None, CompanySpec(name="Acme Ltd")]),
    shipping_line=st.sampled_from([None, ShippingLineSpec(), ShippingLineSpec(title="Express", code="EXP")]),
)
afterwards = st.sampled_from(["nothing", "pay", "edit", "cancel"])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=specs, then=afterwards)
def test_a_body_records_as_a_read_by_id_of_its_version(
    shop: tuple[Sandbox, ShopifyOrdersSource, Ledger, Ledger], spec: OrderSpec, then: str
) -> None:
    sandbox, source, bodies, reads = shop
    placed = sandbox.control.place_order(spec)
    if then == "pay" and spec.financial_status == "PENDING":
        sandbox.control.mark_paid(placed["id"])
    elif then == "edit":
        line = placed["line_items"][0]
        sandbox.control.edit_order(placed["id"], EditSpec(set_quantities=[
            QuantityChange(line_item_id=line["id"], quantity=max(0, line["quantity"] - 1))]))  # fmt: skip
    elif then == "cancel":
        sandbox.control.cancel_order(placed["id"], CancelSpec())
    store = sandbox.state.store
    with store.lock:
        body = build(store, "ORDERS_UPDATED", {"order": int(placed["legacy_id"])})
    read = source.orders_by_ids([placed["id"]])[placed["id"]]
    refused = spec.company is not None or any(line.sku == "BUNDLE-BRK" for line in spec.lines)
    if refused:
        with pytest.raises(BodyRefused):
            order_from_body(body, None)
        return
    from_body = order_from_body(body, None)
    assert from_body.customer_tags is None  # no body carries them (API 2025-01 on)
    assert from_body.model_copy(update={"customer_tags": read.customer_tags}) == read
    moment = datetime.now(UTC) + timedelta(seconds=10)  # after the version's second: settled
    record_orders(bodies, [from_body], RULES, "test", moment, read_at=moment)
    record_orders(reads, [read], RULES, "test", moment, read_at=moment)
    fill_customer_tags(source, bodies, RULES, "test", [read.id], moment)
    assert _recorded(bodies, read.id) == _recorded(reads, read.id)


def _recorded(ledger: Ledger, order_id: str) -> tuple[object, ...]:
    with ledger.transaction() as con:
        row = ledger_orders.get_many(con, [order_id])[order_id]
        record = ledger_trace.order_record(con, order_id)
    events = [(e["kind"], e["actor"], e["reason"], e["detail"]) for e in record["events"]]
    return row, record["lines"], events


def test_release_reads_a_body_recorded_order_whose_address_changed_in_its_second(
    shop: tuple[Sandbox, ShopifyOrdersSource, Ledger, Ledger],
) -> None:
    """A body recorded after its second is over is trusted at its version, but a second change in
    that second (same `updatedAt`) whose webhook is lost hides in it. Release's version check asks
    body-recorded orders for their address, shipping line and cart attributes over HTTP and reads
    in full those that differ; a read by id of the same version needs only `updatedAt`."""
    sandbox, source, bodies, reads = shop
    spec = OrderSpec(lines=[LineSpec(sku="TEE-M", quantity=1)], custom_attributes={"gift_note": "hi"},
                     shipping_line=ShippingLineSpec(title="Express", code="EXP"))  # fmt: skip
    first, second = (sandbox.control.place_order(spec)["id"] for _ in range(2))
    store = sandbox.state.store
    with store.lock:
        payloads = [build(store, "ORDERS_UPDATED", {"order": store.order(o).id}) for o in (first, second)]
    moment = datetime.now(UTC) + timedelta(seconds=10)  # after the versions' second: settled
    recorded = [order_from_body(p, None) for p in payloads]
    record_orders(bodies, recorded, RULES, "t", moment, moment, from_body=True)
    with bodies.transaction() as con:
        assert all(r.snapshot_from_body for r in ledger_orders.get_many(con, [first, second]).values())
    deliveries = source.order_deliveries([first, second])  # over HTTP, as Shopify's GraphQL has them
    assert all(deliveries[o.id].agrees(o) and deliveries[o.id].updated_at == o.updated_at for o in recorded)
    with store.lock:  # the address app's correction, in the same second: no new version
        store.order(second).shipping_address = {
            **store.order(second).shipping_address,
            "address1": "2 New Rd",
        }
    stale_versions = source.order_versions([first, second])
    assert missing_and_read(source, bodies, [first, second], moment) == ([], 1)
    assert source.order_versions([first, second]) == stale_versions  # the version never moved
    with bodies.transaction() as con:
        held = ledger_orders.get_many(con, [first, second])
    assert held[second].snapshot["shipping_address"]["address1"] == "2 New Rd"  # type: ignore[index]
    # Both are confirmed now (the customer tags release filled in, or the read in full).
    assert not held[second].snapshot_from_body and not held[first].snapshot_from_body
    # A read by id of the same version is trusted on `updatedAt` alone: nothing more is asked.
    record_orders(reads, list(source.orders_by_ids([first]).values()), RULES, "t", moment, moment)
    assert missing_and_read(source, reads, [first], moment) == ([], 0)


def missing_and_read(
    source: ShopifyOrdersSource, ledger: Ledger, ids: list[str], moment: datetime
) -> tuple[list[str], int]:
    return bring_up_to_date(source, ledger, RULES, "t", ids, moment)
