"""Typed results of the finance reads and mutations (see `finance.py`).

Every amount is a `MoneyPair`: Shopify's own figure in the shop's currency and in the customer's
(presentment) currency, as `Decimal`, never recomputed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import Field, model_validator

from .models import IdRef, Money, ShopifyModel, _nodes, _page


class MoneyPair(ShopifyModel):
    shop_money: Money
    presentment_money: Money

    @property
    def shop(self) -> Decimal:
        return self.shop_money.amount

    @property
    def presentment(self) -> Decimal:
        return self.presentment_money.amount


class FinanceLine(ShopifyModel):
    id: str
    sku: str | None = None
    quantity: int
    current_quantity: int
    requires_shipping: bool
    original_unit_price_set: MoneyPair


class OrderTransaction(ShopifyModel):
    id: str
    kind: str
    status: str
    gateway: str | None = None
    processed_at: datetime | None = None
    authorization_expires_at: datetime | None = None
    amount_set: MoneyPair
    parent_transaction: IdRef | None = None


class RefundLineItem(ShopifyModel):
    quantity: int
    restock_type: str
    line_item: IdRef
    subtotal_set: MoneyPair
    total_tax_set: MoneyPair


class Refund(ShopifyModel):
    id: str
    created_at: datetime | None = None
    note: str | None = None
    total_refunded_set: MoneyPair
    return_: IdRef | None = Field(None, alias="return")
    refund_line_items: list[RefundLineItem] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        return _nodes(data, "refundLineItems", "refund_line_items")


class ReturnSummary(ShopifyModel):
    id: str
    name: str | None = None
    status: str
    total_quantity: int
    created_at: datetime | None = None
    closed_at: datetime | None = None


class DisplayName(ShopifyModel):
    display_name: str | None = None


class OrderMoney(ShopifyModel):
    """One order's money as Shopify states it, with its payments, refunds and returns."""

    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None = None
    display_financial_status: str | None = None
    return_status: str | None = None
    note: str | None = None
    currency_code: str
    presentment_currency_code: str
    taxes_included: bool
    customer: DisplayName | None = None
    subtotal_price_set: MoneyPair
    total_discounts_set: MoneyPair
    total_shipping_price_set: MoneyPair
    total_tax_set: MoneyPair
    total_price_set: MoneyPair
    current_total_price_set: MoneyPair
    current_total_tax_set: MoneyPair
    total_received_set: MoneyPair
    total_refunded_set: MoneyPair
    total_refunded_shipping_set: MoneyPair
    net_payment_set: MoneyPair
    # Suggested less paid back over the refunds: negative when a refund gave more than the goods
    # refunded (goodwill), which Shopify does not count as outstanding.
    refund_discrepancy_set: MoneyPair
    total_outstanding_set: MoneyPair
    total_capturable_set: MoneyPair
    line_items: list[FinanceLine] = Field(default_factory=list)
    transactions: list[OrderTransaction] = Field(default_factory=list)
    refunds: list[Refund] = Field(default_factory=list)
    returns: list[ReturnSummary] = Field(default_factory=list)
    # True when a first page held less than the order has (the client reads the order alone).
    truncated: bool = False
    # Set by the client (never by Shopify) when the order could not be read whole under the
    # 1,000-point cap (`ShopifyOrderTooLarge`'s message): its lists are cut off, so its figures
    # must not be used as they are.
    unreadable: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        return _nodes(_page(data, "lineItems", "line_items", truncated="truncated"), "returns", "returns")


class SuggestedTransaction(ShopifyModel):
    gateway: str | None = None
    amount_set: MoneyPair
    parent_transaction: IdRef | None = None


class SuggestedRefund(ShopifyModel):
    amount_set: MoneyPair
    suggested_transactions: list[SuggestedTransaction] = Field(default_factory=list)


class FulfilledLine(ShopifyModel):
    """A fulfilment line item: what a return is made of."""

    id: str
    quantity: int
    line_item: IdRef


class ReturnLine(ShopifyModel):
    id: str
    quantity: int
    processed_quantity: int
    line_item_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _lift(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("fulfillmentLineItem"), dict):
            data = {**data, "line_item_id": data["fulfillmentLineItem"]["lineItem"]["id"]}
        return data


class Return(ShopifyModel):
    id: str
    name: str | None = None
    status: str
    return_line_items: list[ReturnLine] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        return _nodes(data, "returnLineItems", "return_line_items")
