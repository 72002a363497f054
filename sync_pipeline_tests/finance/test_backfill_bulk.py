"""Finance's backfill read through a bulk operation, over real HTTP: the same finance rows as the
paginated read, and query-cost points spent only on the orders that have refunds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sync_pipeline.lib.flows.finance.shopify_port import ShopifyMoney
from sync_pipeline.lib.ledger.finance_orders import FinanceOrderSet
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.lib.shopify.bulk_results import parse_lines, reassemble
from sync_pipeline.lib.shopify.errors import ShopifyBulkError
from sync_pipeline.sandbox.server import serve_in_thread
from sync_pipeline.sandbox.shopify.app import create_app
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import (
    CancelSpec,
    EditSpec,
    LineSpec,
    OrderSpec,
    SandboxControl,
    ShippingLineSpec,
    points_by_operation,
)
from sync_pipeline.sandbox.traffic_money import refund_as_suggested
from sync_pipeline_tests.shopify.conftest import TOKEN, Sandbox

D = Decimal
EUR = {"presentment_currency": "EUR", "exchange_rate": "1.17"}


def _place(sandbox: Sandbox, lines: list[LineSpec] | None = None, **spec: object) -> str:
    order = OrderSpec(lines=lines or [LineSpec(sku="TEE-M", quantity=3)], **spec)  # type: ignore[arg-type]
    return str(sandbox.control.place_order(order)["id"])


def _fulfil(sandbox: Sandbox, order_id: str) -> None:
    sandbox.client.create_fulfillment({fo.id: None for fo in sandbox.client.get_fulfillment_orders(order_id)})


def _return_one(sandbox: Sandbox, order_id: str, refunded: bool) -> None:
    client = sandbox.client
    [line] = client.fulfilled_lines(order_id)[:1]
    opened = client.create_return(order_id, {line.id: 1})
    back = None
    if refunded:
        suggestion = client.suggest_refund(order_id, {line.line_item.id: (1, "RETURN")})
        back = [(t.parent_transaction.id, t.amount_set.presentment, "GBP")
                for t in suggestion.suggested_transactions if t.parent_transaction]  # fmt: skip
    client.process_return(opened.id, {opened.return_line_items[0].id: 1}, back)


def _month(sandbox: Sandbox) -> dict[str, str]:
    """Orders of every shape finance reads, by what happened to them."""
    sandbox.seed()
    client = sandbox.client
    made = {
        "plain": _place(sandbox),
        "euro_discounted": _place(sandbox, discount_rate="0.10", shipping_line=ShippingLineSpec(price="4.95"), **EUR),
        "us_sales_tax": _place(sandbox, [LineSpec(sku="MUG", quantity=2)], taxes_included=False, tax_rate="0.08"),
        "long": _place(sandbox, [LineSpec(sku=s, quantity=q) for q in (1, 2, 3, 4) for s in ("MUG", "TEE-S", "TEE-M")]),
        "partial_refund_eur": _place(sandbox, **EUR),
        "goodwill": _place(sandbox, **EUR),
        "shipping_refund": _place(sandbox, shipping_line=ShippingLineSpec(price="3.95")),
        "returned_refunded": _place(sandbox),
        "returned_not_refunded": _place(sandbox),
        "edited": _place(sandbox, [LineSpec(sku="TEE-S", quantity=2)]),
        "captured_in_parts": _place(sandbox, financial_status="AUTHORIZED"),
        "cancelled": _place(sandbox, shipping_line=ShippingLineSpec(price="3.95")),
        "pending": _place(sandbox, financial_status="PENDING"),
    }  # fmt: skip
    [line] = client.get_orders_money([made["partial_refund_eur"]])[0].line_items
    refund_as_suggested(client, made["partial_refund_eur"], {line.id: (1, "CANCEL")})
    [sale] = client.get_orders_money([made["goodwill"]])[0].transactions
    client.create_refund(made["goodwill"], {}, [(sale.id, D("1.03"), sale.gateway or "manual")])
    shipping = client.suggest_refund(made["shipping_refund"], {}, shipping=True)
    client.create_refund(made["shipping_refund"], {}, [(t.parent_transaction.id, t.amount_set.presentment,
                         t.gateway or "manual") for t in shipping.suggested_transactions if t.parent_transaction],
                         shipping=True)  # fmt: skip
    for name, refunded in (("returned_refunded", True), ("returned_not_refunded", False)):
        _fulfil(sandbox, made[name])
        _return_one(sandbox, made[name], refunded)
    sandbox.control.edit_order(made["edited"], EditSpec(add_lines=[LineSpec(sku="MUG")]))
    authorised = client.get_orders_money([made["captured_in_parts"]])[0]
    for _ in range(5):  # six transactions: more than a page of them holds
        client.capture_payment(
            made["captured_in_parts"], authorised.transactions[0].id, D("5.00"), "GBP", final=False
        )
    sandbox.control.cancel_order(made["cancelled"], CancelSpec())
    return made


@pytest.fixture(scope="module")
def month() -> Iterator[tuple[Sandbox, dict[str, str]]]:
    """One sandbox holding the month, shared by the module's tests (they only read it, or add orders
    without refunds)."""
    with ExitStack() as stack:
        app = create_app(ShopifySandboxConfig(plan="plus"))
        url = stack.enter_context(serve_in_thread(app))
        control = SandboxControl(url)
        stack.callback(control.close)
        client = ShopifyClient(url, TOKEN, backoff_base=0.05)
        stack.callback(client.close)
        client.bulk_poll_seconds = 0.05
        sandbox = Sandbox(url, app.state.sandbox, control, client)
        yield sandbox, _month(sandbox)


def _window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(minutes=5)


def _read(sandbox: Sandbox, threshold: int) -> list[FinanceOrderSet]:
    sandbox.client.bulk_threshold = threshold
    rows = list(ShopifyMoney(sandbox.client).orders_between("created_at", *_window()))
    assert sandbox.client.last_read_mode == ("bulk" if threshold else "paginated")
    return rows


def _spent(sandbox: Sandbox, before: dict[str, float]) -> dict[str, float]:
    after = points_by_operation(sandbox.state.stats)
    return {op: points - before.get(op, 0) for op, points in after.items() if points > before.get(op, 0)}


def test_bulk_and_paginated_backfills_give_identical_finance_rows(
    month: tuple[Sandbox, dict[str, str]],
) -> None:
    sandbox, made = month
    bulk_operations = sandbox.state.stats["bulk_operations"]
    paged = _read(sandbox, 0)
    bulk = _read(sandbox, 1)
    assert sandbox.state.stats["bulk_operations"] == bulk_operations + 1
    assert set(made.values()) <= {s.order.shopify_order_id for s in paged}
    assert bulk == paged  # every row, in the same order
    by_name = {name: next(s for s in bulk if s.order.shopify_order_id == i) for name, i in made.items()}
    # Not one trivial path: refunds of each kind with their lines, returns, edits, two currencies.
    assert [(x.restock_type, x.quantity) for x in by_name["partial_refund_eur"].refunds[0].lines] == [
        ("CANCEL", 1)
    ]
    assert by_name["partial_refund_eur"].order.currency == "EUR"
    goodwill = by_name["goodwill"].refunds[0]
    assert goodwill.lines == () and goodwill.total_refunded.presentment == D("1.03")
    assert by_name["shipping_refund"].order.refunded_shipping.shop == D("3.95")
    assert [r.status for r in by_name["returned_not_refunded"].returns] == ["CLOSED"]
    assert by_name["returned_not_refunded"].refunds == ()
    returned = by_name["returned_refunded"]
    assert returned.refunds[0].return_id == returned.returns[0].return_id and returned.refunds[0].lines
    assert len(by_name["edited"].lines) == 2 and len(by_name["long"].lines) == 12
    assert len(by_name["captured_in_parts"].transactions) == 6
    assert by_name["cancelled"].order.cancelled_at is not None and by_name["cancelled"].refunds


def test_bulk_backfill_spends_points_only_on_the_orders_with_refunds(
    month: tuple[Sandbox, dict[str, str]],
) -> None:
    sandbox, _ = month

    def bulk_read() -> tuple[list[FinanceOrderSet], dict[str, float]]:
        before = points_by_operation(sandbox.state.stats)
        rows = _read(sandbox, 1)
        return rows, _spent(sandbox, before)

    rows, spent = bulk_read()
    refunded = [s.order.shopify_order_id for s in rows if s.refunds]
    assert 0 < len(refunded) < len(rows)
    before = points_by_operation(sandbox.state.stats)
    sandbox.client.get_orders_money(refunded)
    reread = _spent(sandbox, before)["OrdersMoneyByIds"]
    # The count that chose bulk (1), starting the operation (10), the polls (1 each), and reading the
    # refunded orders again by id: what those orders alone cost, nothing for the others.
    assert spent.keys() <= {"OrdersCount", "BulkOperationRunQuery", "BulkOperation", "OrdersMoneyByIds"}
    assert (spent["OrdersCount"], spent["BulkOperationRunQuery"], spent["OrdersMoneyByIds"]) == (
        1,
        10,
        reread,
    )
    # More orders without refunds in the window: the bulk read costs not a point more.
    for _ in range(3):
        _place(sandbox, **EUR)
    more, again = bulk_read()
    assert len(more) == len(rows) + 3
    assert (again["OrdersCount"], again["BulkOperationRunQuery"], again["OrdersMoneyByIds"]) == (
        1,
        10,
        reread,
    )


def test_children_of_two_connections_are_put_back_by_the_type_of_their_id() -> None:
    lines = [
        '{"id":"gid://shopify/Order/1","refunds":[]}',
        '{"id":"gid://shopify/LineItem/11","__parentId":"gid://shopify/Order/1"}',
        '{"id":"gid://shopify/Return/12","__parentId":"gid://shopify/Order/1"}',
        '{"id":"gid://shopify/LineItem/13","__parentId":"gid://shopify/Order/1"}',
        '{"id":"gid://shopify/Order/2","refunds":[]}',
    ]
    children = {"LineItem": "lineItems", "Return": "returns"}
    one, two = reassemble(parse_lines(lines, "op"), children, "op")
    assert [n["id"] for n in one["lineItems"]["nodes"]] == [
        "gid://shopify/LineItem/11",
        "gid://shopify/LineItem/13",
    ]
    assert [n["id"] for n in one["returns"]["nodes"]] == ["gid://shopify/Return/12"]
    assert two["lineItems"]["nodes"] == [] and two["returns"]["nodes"] == []
    assert one["returns"]["pageInfo"]["hasNextPage"] is False
    stray = [lines[0], '{"id":"gid://shopify/Fulfillment/9","__parentId":"gid://shopify/Order/1"}']
    with pytest.raises(ShopifyBulkError, match=r"Fulfillment/9.*of none of the connections asked for"):
        list(reassemble(parse_lines(stray, "op"), children, "op"))
