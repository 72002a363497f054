"""Money over real HTTP: the sandbox's order money, payments, refunds and returns, read and moved
by the client as Shopify's Admin API serves them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sync_pipeline.lib.shopify import ShopifyUserErrors
from sync_pipeline.lib.shopify import finance_documents as docs
from sync_pipeline.sandbox.shopify.control import CancelSpec, LineSpec, OrderSpec, ShippingLineSpec
from sync_pipeline_tests.shopify.conftest import Sandbox

D = Decimal


def place(sandbox: Sandbox, **spec: object) -> str:
    lines = spec.pop("lines", [LineSpec(sku="TEE-M", quantity=3)])
    return str(sandbox.control.place_order(OrderSpec(lines=lines, **spec))["id"])  # type: ignore[arg-type]


def fulfil_all(sandbox: Sandbox, order_id: str) -> None:
    fos = sandbox.client.get_fulfillment_orders(order_id)
    sandbox.client.create_fulfillment({fo.id: None for fo in fos})


def test_money_is_stated_in_both_currencies_with_tax_and_discounts(sandbox: Sandbox) -> None:
    sandbox.seed()
    euro = place(sandbox, presentment_currency="EUR", exchange_rate="1.17", discount_rate="0.10",
                 shipping_line=ShippingLineSpec(price="4.95"))  # fmt: skip
    us = place(sandbox, taxes_included=False, tax_rate="0.08", lines=[LineSpec(sku="MUG", quantity=2)])
    m, u = sandbox.client.get_orders_money([euro, us])
    # 3 × 12.50 = 37.50, less 10 % (3.75) = 33.75, + 4.95 shipping; VAT (20 %) is inside the prices.
    assert (m.subtotal_price_set.shop, m.total_discounts_set.shop, m.total_price_set.shop) == (
        D("33.75"),
        D("3.75"),
        D("38.70"),
    )
    assert m.total_tax_set.shop == D("5.63") + D("0.83")  # line VAT 33.75/6, shipping VAT 4.95/6
    # The customer's currency adds up in itself: 3 × 14.63 = 43.89, less 4.39 = 39.50, + 5.79.
    assert (m.presentment_currency_code, m.total_price_set.presentment) == ("EUR", D("45.29"))
    assert m.total_price_set.presentment_money.currency_code == "EUR"
    assert m.total_price_set.shop_money.currency_code == "GBP"
    assert m.display_financial_status == "PAID" and m.total_received_set.presentment == D("45.29")
    # US sales tax is added on top: 16.00 + 8 % = 17.28.
    assert (u.taxes_included, u.total_tax_set.shop, u.total_price_set.shop) == (False, D("1.28"), D("17.28"))
    assert [t.kind for t in m.transactions] == ["SALE"] and m.transactions[0].status == "SUCCESS"


def test_authorise_then_capture_part_then_the_rest(sandbox: Sandbox) -> None:
    sandbox.seed()
    order = place(sandbox, financial_status="AUTHORIZED")  # 37.50
    [m] = sandbox.client.get_orders_money([order])
    auth = m.transactions[0]
    assert (m.display_financial_status, m.total_capturable_set.shop, auth.kind) == (
        "AUTHORIZED",
        D("37.50"),
        "AUTHORIZATION",
    )
    assert auth.authorization_expires_at is not None
    sandbox.client.capture_payment(order, auth.id, D("20.00"), "GBP", final=False)
    [m] = sandbox.client.get_orders_money([order])
    assert (m.display_financial_status, m.total_received_set.shop, m.total_capturable_set.shop) == (
        "PARTIALLY_PAID", D("20.00"), D("17.50"))  # fmt: skip
    with pytest.raises(ShopifyUserErrors, match=r"at most 17\.50"):
        sandbox.client.capture_payment(order, auth.id, D("20.00"), "GBP")
    sandbox.client.capture_payment(order, auth.id, D("17.50"), "GBP")
    [m] = sandbox.client.get_orders_money([order])
    assert (m.display_financial_status, m.total_capturable_set.shop, m.total_outstanding_set.shop) == (
        "PAID", D("0.00"), D("0.00"))  # fmt: skip
    assert [t.kind for t in m.transactions] == ["AUTHORIZATION", "CAPTURE", "CAPTURE"]
    assert all(t.parent_transaction and t.parent_transaction.id == auth.id for t in m.transactions[1:])


def test_refund_create_is_idempotent_and_refunds_exactly_what_is_suggested(sandbox: Sandbox) -> None:
    sandbox.seed()
    order = place(sandbox, presentment_currency="EUR", exchange_rate="1.17", discount_rate="0.10")
    [m] = sandbox.client.get_orders_money([order])
    line = m.line_items[0].id
    suggestion = sandbox.client.suggest_refund(order, {line: (1, "CANCEL")})
    [pay] = suggestion.suggested_transactions
    back = [(pay.parent_transaction.id, pay.amount_set.presentment, pay.gateway)]  # type: ignore[union-attr]
    first = sandbox.client.create_refund(order, {line: (1, "CANCEL")}, back, idempotency_key="refund-1")
    again = sandbox.client.create_refund(order, {line: (1, "CANCEL")}, back, idempotency_key="refund-1")
    assert first.id == again.id  # the replay got the first answer: one refund, not two
    [m] = sandbox.client.get_orders_money([order])
    assert len(m.refunds) == 1 and m.display_financial_status == "PARTIALLY_REFUNDED"
    assert (m.line_items[0].quantity, m.line_items[0].current_quantity) == (3, 2)
    [rl] = m.refunds[0].refund_line_items
    assert (rl.restock_type, rl.quantity, rl.subtotal_set.shop) == ("CANCEL", 1, D("11.25"))
    # Refunded as suggested: the current total and the net payment agree to the penny in both currencies.
    assert m.total_refunded_set.shop == D("11.25") and m.total_outstanding_set.shop == D("0.00")
    assert m.total_outstanding_set.presentment == D("0.00")
    with pytest.raises(ShopifyUserErrors, match="different parameters"):
        sandbox.client.create_refund(order, {line: (2, "CANCEL")}, back, idempotency_key="refund-1")


def test_refund_create_needs_an_idempotency_key(sandbox: Sandbox) -> None:
    sandbox.seed()
    order = place(sandbox)
    body = sandbox.post(
        "mutation($input: RefundInput!) { refundCreate(input: $input) { refund { id } userErrors { message } } }",
        {"input": {"orderId": order}},
    ).json()
    assert (
        body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        and "idempotent" in body["errors"][0]["message"]
    )


def test_refunds_are_refused_beyond_what_was_bought_paid_or_shipped(sandbox: Sandbox) -> None:
    sandbox.seed()
    order = place(sandbox)
    [m] = sandbox.client.get_orders_money([order])
    line, sale = m.line_items[0].id, m.transactions[0].id
    with pytest.raises(ShopifyUserErrors, match="more items than were fulfilled"):
        sandbox.client.create_refund(order, {line: (1, "RETURN")})  # nothing shipped yet
    with pytest.raises(ShopifyUserErrors, match="more items than were purchased"):
        sandbox.client.create_refund(order, {line: (4, "NO_RESTOCK")})
    with pytest.raises(ShopifyUserErrors, match=r"at most 37\.50"):
        sandbox.client.create_refund(order, {}, [(sale, D("40.00"), "shopify_payments")])
    # A refund without transactions records the units but pays nothing back: Shopify suggested 12.50,
    # the merchant paid 0, a refund discrepancy in the merchant's favour; nothing is left to transact.
    sandbox.client.create_refund(order, {line: (1, "NO_RESTOCK")})
    [m] = sandbox.client.get_orders_money([order])
    assert (m.total_refunded_set.shop, m.refund_discrepancy_set.shop, m.total_outstanding_set.shop) == (
        D("0.00"), D("12.50"), D("0.00"))  # fmt: skip
    # Goodwill on top (an amount, no goods): all of it discrepancy, in the customer's favour.
    sandbox.client.create_refund(order, {}, [(sale, D("2.00"), "shopify_payments")])
    [m] = sandbox.client.get_orders_money([order])
    assert (m.total_refunded_set.shop, m.refund_discrepancy_set.shop, m.total_outstanding_set.shop) == (
        D("2.00"), D("10.50"), D("0.00"))  # fmt: skip


def test_a_return_after_fulfilment_is_processed_with_its_refund(sandbox: Sandbox) -> None:
    sandbox.seed()
    order = place(sandbox)
    fulfil_all(sandbox, order)
    [line] = sandbox.client.fulfilled_lines(order)
    opened = sandbox.client.create_return(order, {line.id: 2})
    assert opened.status == "OPEN" and opened.return_line_items[0].line_item_id == line.line_item.id
    with pytest.raises(ShopifyUserErrors, match="more than can be returned"):
        sandbox.client.create_return(order, {line.id: 2})  # only one unit is left to return
    [m] = sandbox.client.get_orders_money([order])
    assert m.return_status == "IN_PROGRESS"
    suggestion = sandbox.client.suggest_refund(order, {line.line_item.id: (2, "RETURN")})
    [pay] = suggestion.suggested_transactions
    back = [(pay.parent_transaction.id, pay.amount_set.presentment, "GBP")]  # type: ignore[union-attr]
    rl = opened.return_line_items[0]
    done = sandbox.client.process_return(opened.id, {rl.id: 2}, back, idempotency_key="ret-1")
    assert done.status == "CLOSED"
    [m] = sandbox.client.get_orders_money([order])
    assert m.return_status == "RETURNED" and m.returns[0].total_quantity == 2
    [refund] = m.refunds
    assert refund.return_ is not None and refund.return_.id == opened.id
    assert [(x.restock_type, x.quantity) for x in refund.refund_line_items] == [("RETURN", 2)]
    assert (m.total_refunded_set.shop, m.net_payment_set.shop, m.current_total_price_set.shop) == (
        D("25.00"), D("12.50"), D("12.50"))  # fmt: skip


def test_a_return_may_be_closed_without_a_refund(sandbox: Sandbox) -> None:
    sandbox.seed()
    order = place(sandbox)
    fulfil_all(sandbox, order)
    [line] = sandbox.client.fulfilled_lines(order)
    opened = sandbox.client.create_return(order, {line.id: 1})
    done = sandbox.client.process_return(opened.id, {opened.return_line_items[0].id: 1})
    assert done.status == "CLOSED" and sandbox.client.get_orders_money([order])[0].refunds == []


def test_cancelling_refunds_what_was_paid_and_voids_authorisations(sandbox: Sandbox) -> None:
    sandbox.seed()
    paid = place(sandbox, shipping_line=ShippingLineSpec(price="3.95"))
    authorised = place(sandbox, financial_status="AUTHORIZED")
    for order in (paid, authorised):
        sandbox.control.cancel_order(order, CancelSpec(restock=True))
    p, a = sandbox.client.get_orders_money([paid, authorised])
    assert (p.display_financial_status, p.net_payment_set.shop, p.current_total_price_set.shop) == (
        "REFUNDED", D("0.00"), D("0.00"))  # fmt: skip
    assert p.total_price_set.shop == D("41.45")  # the total before returns is what was sold
    assert [(x.restock_type, x.quantity) for x in p.refunds[0].refund_line_items] == [("CANCEL", 3)]
    assert p.total_refunded_shipping_set.shop == D("3.95")
    assert (a.display_financial_status, a.total_capturable_set.shop) == ("VOIDED", D("0.00"))
    assert [t.kind for t in a.transactions] == ["AUTHORIZATION", "VOID"]


def test_orders_money_pages_by_creation_date(sandbox: Sandbox) -> None:
    from datetime import UTC, datetime, timedelta

    sandbox.seed()
    ids = {place(sandbox) for _ in range(3)}
    read = list(
        sandbox.client.iter_orders_money_between("created_at", datetime.now(UTC) - timedelta(hours=1))
    )
    assert {o.id for o in read} == ids


def test_an_order_bigger_than_a_page_is_read_whole_under_the_cost_cap(sandbox: Sandbox) -> None:
    """12 lines, 4 refunds of 3 lines each, 7 transactions, 3 returns: more of each than the first
    read's shape holds, so the client reads the order again in parts, each under 1,000 points."""
    sandbox.seed()
    skus = ("TEE-S", "TEE-M", "MUG")
    order = place(
        sandbox,
        financial_status="AUTHORIZED",
        lines=[LineSpec(sku=skus[i % 3], quantity=3) for i in range(12)],
    )
    auth = sandbox.client.get_orders_money([order])[0].transactions[0]
    captures = [
        sandbox.client.capture_payment(order, auth.id, D("20.00"), "GBP", final=False) for _ in range(2)
    ]
    fulfil_all(sandbox, order)
    fulfilled = sandbox.client.fulfilled_lines(order)
    for f in fulfilled[:3]:
        sandbox.client.create_return(order, {f.id: 1})
    line_ids = [f.line_item.id for f in fulfilled[3:]]
    for k in range(4):
        lines = {line_ids[(3 * k + j) % len(line_ids)]: (1, "NO_RESTOCK") for j in range(3)}
        sandbox.client.create_refund(order, lines, [(captures[0].id, D("1.00"), "manual")])
    # The old re-read (one query with bigger lists) is refused: 3 refunds × 40 lines, etc.
    old = sandbox.post(
        docs.ORDERS_MONEY_BY_IDS,
        {"ids": [order], "lineItems": 40, "transactions": 20, "refunds": 12, "returns": 12},
    ).json()
    assert old["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"

    spent_before = dict(sandbox.state.stats)
    [m] = sandbox.client.get_orders_money([order])
    truth = sandbox.state.store.orders[int(order.rsplit("/", 1)[1])]
    assert not m.truncated
    assert [(li.id.rsplit("/", 1)[1], li.quantity, li.current_quantity, li.original_unit_price_set.shop)
            for li in m.line_items] == [(str(li.id), li.quantity, li.current_quantity, li.unit_price)
                                        for li in truth.line_items]  # fmt: skip
    assert [(t.kind, t.amount_set.shop, t.amount_set.presentment) for t in m.transactions] == [
        (t.kind, t.amount.shop, t.amount.presentment) for t in truth.transactions]  # fmt: skip
    assert len(m.transactions) == 7 and len(m.returns) == 3 and len(m.refunds) == 4
    assert [[(x.line_item.id.rsplit("/", 1)[1], x.quantity, x.subtotal_set.shop, x.total_tax_set.shop)
             for x in r.refund_line_items] for r in m.refunds] == [
        [(str(x.line_item_id), x.quantity, x.subtotal.shop, x.tax.shop) for x in r.lines] for r in truth.refunds]  # fmt: skip
    assert sum(x.quantity for r in m.refunds for x in r.refund_line_items) == 12
    assert [r.total_refunded_set.shop for r in m.refunds] == [D("1.00")] * 4
    assert sum(r.total_quantity for r in m.returns) == 3
    # read in parts (each refused by the sandbox if over 1,000 points), a refund's lines paged by its id
    for part in ("OrderMoneyLines", "OrderMoneyTransactions", "OrderMoneyRefunds", "RefundMoneyLines",
                 "OrderMoneyReturns"):  # fmt: skip
        assert sandbox.state.stats[f"points_spent:{part}"] > spent_before.get(f"points_spent:{part}", 0), part
