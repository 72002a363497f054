"""Finance's view of Shopify: each order's money as ledger rows, figures copied as Shopify states them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from sync_pipeline.lib.flows.finance.ports import OrdersPage
from sync_pipeline.lib.ledger.finance_orders import (
    Amount,
    FinanceLineRow,
    FinanceOrderRow,
    FinanceOrderSet,
    RefundLineRow,
    RefundRow,
    ShopifyReturnRow,
    TransactionRow,
)
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.lib.shopify.finance import money_search
from sync_pipeline.lib.shopify.finance_models import MoneyPair, OrderMoney

# Transactions that mean the customer paid or committed to pay: the despatch SLA runs from the first.
PAYMENTS = ("SALE", "CAPTURE", "AUTHORIZATION")


def _amount(pair: MoneyPair) -> Amount:
    return Amount(pair.shop, pair.presentment)


def finance_set(o: OrderMoney) -> FinanceOrderSet:
    """One order's money, lines, payments, refunds and returns, exactly as Shopify states them."""
    paid = [
        t.processed_at
        for t in o.transactions
        if t.kind in PAYMENTS and t.status == "SUCCESS" and t.processed_at
    ]
    if not paid and o.display_financial_status == "PAID":
        # A free order (0.00 lines, a 100 % discount): Shopify records no payment and says PAID. It
        # is paid as placed, so the despatch SLA runs from then, as for any paid order.
        paid = [o.created_at]
    order = FinanceOrderRow(
        shopify_order_id=o.id,
        order_name=o.name,
        order_date=o.created_at.astimezone(UTC).date(),
        created_at=o.created_at,
        cancelled_at=o.cancelled_at,
        paid_at=min(paid) if paid else None,
        financial_status=o.display_financial_status,
        return_status=o.return_status,
        customer_name=o.customer.display_name if o.customer else None,
        note=o.note,
        shop_currency=o.currency_code,
        currency=o.presentment_currency_code,
        taxes_included=o.taxes_included,
        subtotal=_amount(o.subtotal_price_set),
        discounts=_amount(o.total_discounts_set),
        shipping=_amount(o.total_shipping_price_set),
        tax=_amount(o.total_tax_set),
        total_price=_amount(o.total_price_set),
        current_total_price=_amount(o.current_total_price_set),
        current_tax=_amount(o.current_total_tax_set),
        received=_amount(o.total_received_set),
        refunded=_amount(o.total_refunded_set),
        refunded_shipping=_amount(o.total_refunded_shipping_set),
        net_payment=_amount(o.net_payment_set),
        refund_discrepancy=_amount(o.refund_discrepancy_set),
        outstanding=_amount(o.total_outstanding_set),
        capturable=_amount(o.total_capturable_set),
        shopify_updated_at=o.updated_at,
    )
    lines = tuple(
        FinanceLineRow(
            li.id,
            li.sku,
            li.quantity,
            li.current_quantity,
            li.requires_shipping,
            _amount(li.original_unit_price_set),
        )
        for li in o.line_items
    )
    transactions = tuple(
        TransactionRow(
            t.id,
            t.kind,
            t.status,
            t.gateway,
            _amount(t.amount_set),
            t.parent_transaction.id if t.parent_transaction else None,
            t.processed_at,
            t.authorization_expires_at,
        )
        for t in o.transactions
    )
    refunds = tuple(
        RefundRow(
            r.id, r.created_at, r.note, _amount(r.total_refunded_set), r.return_.id if r.return_ else None,
            tuple(RefundLineRow(x.line_item.id, x.restock_type, x.quantity, _amount(x.subtotal_set),
                                _amount(x.total_tax_set)) for x in r.refund_line_items),
        )
        for r in o.refunds
    )  # fmt: skip
    returns = tuple(
        ShopifyReturnRow(x.id, x.name, x.status, x.total_quantity, x.created_at, x.closed_at)
        for x in o.returns
    )
    return FinanceOrderSet(order, lines, transactions, refunds, returns, o.unreadable)


class ShopifyMoney:
    """`MoneySource` over the Shopify Admin API."""

    def __init__(self, client: ShopifyClient) -> None:
        self.client = client

    def orders_between(
        self, field: str, since: datetime, until: datetime | None = None
    ) -> Iterator[FinanceOrderSet]:
        if field == "created_at" and until is not None:
            # A backfill window: a large one is one bulk operation (off the rate limit), a small one pages.
            orders = self.client.iter_orders_money_created_between(since, until)
        else:
            orders = self.client.iter_orders_money_between(field, since, until)
        for order in orders:
            yield finance_set(order)

    def pages_changed_since(self, since: datetime) -> Iterator[OrdersPage]:
        for page in self.client.iter_money_pages(money_search("updated_at", since)):
            yield OrdersPage([finance_set(o) for o in page.orders], page.listed_up_to)

    def orders(self, order_ids: Sequence[str]) -> list[FinanceOrderSet]:
        return [finance_set(o) for o in self.client.get_orders_money(order_ids)]
