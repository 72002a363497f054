"""Finance breakers (see `test_breakers.py`): refunds and edits, each row checked by `world.py`'s oracle.

- partial refunds on orders paid in another currency than the shop's (tax included and added);
- an order edited after a refund, down and up;
- hostile refunds: goodwill (an amount, no goods) on a shipped order, beyond the order, of all of
  it, twice in the customer's currency only; shipping alone; units on authorised and unpaid orders.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from sync_pipeline.lib.domain import reconciliation as rules
from sync_pipeline.lib.shopify import ShopifyUserErrors
from sync_pipeline.sandbox.shopify.control import (
    EditSpec,
    LineSpec,
    QuantityChange,
    ShippingLineSpec,
)
from sync_pipeline.sandbox.traffic_money import refund_one_unit
from sync_pipeline_tests.finance.breakers import line_id, place, row_of
from sync_pipeline_tests.finance.world import World, world


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path, prices={"TEE-WHT-M": "9.99", "CAP-BLK-OS": "12.49"}) as made:
        yield made


# -- partial refunds in two currencies ------------------------------------------------------------
@pytest.mark.parametrize(
    ("currency", "rate", "taxes_included"), [("EUR", "1.17", True), ("USD", "1.2713", False)]
)
def test_partial_refunds_on_a_two_currency_order(
    w: World, currency: str, rate: str, taxes_included: bool
) -> None:
    i = place(
        w,
        lines=[LineSpec(sku="TEE-WHT-M", quantity=3), LineSpec(sku="CAP-BLK-OS")],
        shipping_line=ShippingLineSpec(price="3.95"),
        presentment_currency=currency,
        exchange_rate=Decimal(rate),
        discount_rate=Decimal("0.10"),
        taxes_included=taxes_included,
        tax_rate=Decimal("0.20") if taxes_included else Decimal("0.0825"),
    )
    w.release()
    w.despatch(i, False)
    w.fulfil()
    row = row_of(w, i)
    assert (row["currency"], row["shop_currency"], row["status"]) == (currency, "GBP", rules.MATCHED)
    # Shipped at the order's own unit prices, each currency's price as Shopify states it.
    tee, cap = (Decimal(p) * Decimal(rate) for p in ("9.99", "12.49"))
    expected = 3 * tee.quantize(Decimal("0.01"), ROUND_HALF_UP) + cap.quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert (row["despatched_value_shop"], row["despatched_value"]) == (Decimal("42.46"), expected)
    refund_one_unit(w.client, w.ids[i], "RETURN", sku="TEE-WHT-M")  # as Shopify suggests
    refund_one_unit(w.client, w.ids[i], "NO_RESTOCK", sku="CAP-BLK-OS")
    row = row_of(w, i)
    assert row["units_refunded"] == 2 and row["status"] == rules.REFUNDED_NOT_RETURNED
    w.warehouse_return(i, True)
    row = row_of(w, i)
    assert row["status"] == rules.MATCHED
    # Goodwill: an amount of the merchant's choosing in the customer's currency, converted by Shopify.
    (money,) = w.client.get_orders_money([w.ids[i]])
    sale = next(t for t in money.transactions if t.kind == "SALE")
    w.client.create_refund(w.ids[i], {}, [(sale.id, Decimal("5.03"), sale.gateway or "manual")])
    after = row_of(w, i)
    snapshot = w.shop.get_order(w.ids[i])
    for column, key in (
        ("refunded", "refunded"),
        ("net_payment", "net_payment"),
        ("outstanding", "outstanding"),
    ):
        assert after[column] == Decimal(snapshot["money_presentment"][key])
        assert after[column + "_shop"] == Decimal(snapshot["money"][key])
        assert isinstance(after[column], Decimal) and after[column].as_tuple().exponent == -2
    assert after["refunded"] - row["refunded"] == Decimal("5.03")
    assert after["refunded"] != after["refunded_shop"]  # two currencies, never one converted on our side


# -- an order edited after a refund ---------------------------------------------------------------
def test_order_edited_down_and_up_after_a_refund(w: World) -> None:
    i = place(w, lines=[LineSpec(sku="TEE-BLK-M", quantity=3), LineSpec(sku="CAP-BLK-OS")])
    w.release()
    refund_one_unit(w.client, w.ids[i], "CANCEL", sku="TEE-BLK-M")  # before it ships
    row = row_of(w, i)
    assert (row["units_ordered"], row["units_refunded"], row["units_to_despatch"]) == (4, 1, 3)
    tee = line_id(w, i, "TEE-BLK-M")
    w.shop.edit_order(w.ids[i], EditSpec(set_quantities=[QuantityChange(line_item_id=tee, quantity=1)]))
    row = row_of(w, i)  # down: one tee refunded, one removed, one left
    assert (row["units_ordered"], row["units_cancelled"], row["units_to_despatch"]) == (4, 2, 2)
    w.shop.edit_order(
        w.ids[i],
        EditSpec(
            set_quantities=[QuantityChange(line_item_id=tee, quantity=3)],
            add_lines=[LineSpec(sku="SOCK-BLK-OS")],
        ),
    )
    row = row_of(w, i)  # up: the tee line back to three, a line more, and a balance to pay
    assert (row["units_ordered"], row["units_cancelled"], row["units_to_despatch"]) == (7, 2, 5)
    assert row["outstanding_shop"] > 0
    w.shop.mark_paid(w.ids[i])  # the customer pays the edit's invoice
    w.release()
    w.despatch(i, False)
    w.fulfil()
    row = row_of(w, i)
    assert (row["units_despatched"], row["status"]) == (5, rules.MATCHED)
    refund_one_unit(w.client, w.ids[i], "RETURN", sku="TEE-BLK-M")  # after despatch, then it comes back
    w.warehouse_return(i, False)
    row = row_of(w, i)
    assert (row["units_to_despatch"], row["units_returned"], row["status"]) == (5, 1, rules.MATCHED)


def test_order_partly_shipped_refunded_then_edited_down_and_up(w: World) -> None:
    """Two of three tees ship; one of those is refunded to be returned; the third is edited off, then
    a cap added and paid for: the warehouse must ship the cap and take the tee back, no more."""
    i = place(w, lines=[LineSpec(sku="TEE-BLK-M", quantity=3)])
    w.release()
    w.pvx.despatch(w.number(i), [{"TEE-BLK-M": 2}])
    w.fulfil()
    refund_one_unit(w.client, w.ids[i], "RETURN", sku="TEE-BLK-M")
    row = row_of(w, i)
    assert (row["units_despatched"], row["units_to_despatch"], row["status"]) == (
        2,
        3,
        rules.REFUNDED_NOT_RETURNED,
    )
    tee = line_id(w, i, "TEE-BLK-M")
    w.shop.edit_order(w.ids[i], EditSpec(set_quantities=[QuantityChange(line_item_id=tee, quantity=1)]))
    w.release()  # the warehouse hears of the edit
    row = row_of(w, i)
    assert (row["units_to_despatch"], row["units_cancelled"], row["status"]) == (
        2,
        1,
        rules.REFUNDED_NOT_RETURNED,
    )
    w.shop.edit_order(w.ids[i], EditSpec(add_lines=[LineSpec(sku="CAP-BLK-OS")]))
    w.shop.mark_paid(w.ids[i])
    w.release()
    w.despatch(i, False)
    w.fulfil()
    w.warehouse_return(i, True)
    row = row_of(w, i)
    assert (row["units_despatched"], row["units_to_despatch"], row["units_returned"]) == (3, 3, 1)
    assert row["status"] == rules.MATCHED


# -- hostile refunds --------------------------------------------------------------------------------
def goodwill(w: World, i: int, amount: str) -> None:
    """Money back without goods: an amount of the merchant's choosing, in the customer's currency."""
    (money,) = w.client.get_orders_money([w.ids[i]])
    paid = next(t for t in money.transactions if t.kind in ("SALE", "CAPTURE") and t.status == "SUCCESS")
    w.client.create_refund(w.ids[i], {}, [(paid.id, Decimal(amount), paid.gateway or "manual")])


def shipped_and_paid(w: World, **spec: Any) -> int:
    i = place(w, lines=[LineSpec(sku="TEE-BLK-M", quantity=2)], **spec)
    w.release()
    w.despatch(i, False)
    w.fulfil()
    return i


def test_hostile_refunds_against_both_sandboxes(w: World) -> None:
    """Refunds a merchant may make that are not 'these units, as suggested', each on its own order,
    all checked against both systems by the oracle (every figure, both currencies, the tie-out)."""
    whole = shipped_and_paid(w)  # goodwill beyond the order (refused), then of all of it
    euros = shipped_and_paid(w, presentment_currency="EUR", exchange_rate=Decimal("1.17"))
    shipping = shipped_and_paid(w, shipping_line=ShippingLineSpec(price="3.95"))
    authorised = place(w, lines=[LineSpec(sku="TEE-BLK-M", quantity=2)], financial_status="AUTHORIZED")
    unpaid = place(w, lines=[LineSpec(sku="TEE-BLK-M", quantity=2)], financial_status="PENDING")
    goodwill(w, whole, "5.00")  # a shipped, paid order: still paid, and matched
    row = row_of(w, whole)  # the oracle checks every figure and the day's tie-out
    assert (row["status"], row["refunded_shop"], row["outstanding_shop"]) == (
        rules.MATCHED, Decimal("5.00"), Decimal("0.00"))  # fmt: skip
    assert w.shop.get_order(w.ids[whole])["money"]["refund_discrepancy"] == "-5.00"
    with pytest.raises(ShopifyUserErrors, match=r"at most 15\.00"):
        goodwill(w, whole, "15.01")
    goodwill(w, whole, "15.00")  # a second goodwill refund: all the rest
    goodwill(w, euros, "5.03")  # two goodwill refunds, amounts in the customer's currency only
    goodwill(w, euros, "0.01")
    (money,) = w.client.get_orders_money([w.ids[shipping]])
    suggestion = w.client.suggest_refund(w.ids[shipping], {}, shipping=True)  # the shipping alone
    back = [(t.parent_transaction.id, t.amount_set.presentment, "manual")
            for t in suggestion.suggested_transactions if t.parent_transaction]  # fmt: skip
    w.client.create_refund(w.ids[shipping], {}, back, shipping=True)
    for i in (authorised, unpaid):  # no payment to take money back from; units only
        (money,) = w.client.get_orders_money([w.ids[i]])
        if money.transactions:
            with pytest.raises(ShopifyUserErrors, match="Parent transaction"):
                t = money.transactions[0]
                w.client.create_refund(w.ids[i], {}, [(t.id, Decimal("1.00"), "manual")])
        w.client.create_refund(w.ids[i], {money.line_items[0].id: (1, "CANCEL")})
    today, as_of = w.run()
    w.check(today, as_of)
    rows = w.rows(today)
    row = rows[w.ids[whole]]
    assert (row["status"], row["refunded_shop"], row["net_payment_shop"]) == (
        rules.MATCHED, Decimal("20.00"), Decimal("0.00"))  # fmt: skip
    row = rows[w.ids[euros]]
    assert (row["status"], row["refunded"], row["currency"]) == (rules.MATCHED, Decimal("5.04"), "EUR")
    row = rows[w.ids[shipping]]
    assert (row["status"], row["refunded_shop"], row["outstanding_shop"]) == (
        rules.MATCHED, Decimal("3.95"), Decimal("0.00"))  # fmt: skip
    for i in (authorised, unpaid):
        row = rows[w.ids[i]]
        # One unit left to pay for and ship: the unit refunded before payment is not owed, nor owing.
        assert (row["status"], row["units_to_despatch"], row["received_shop"]) == (
            rules.AWAITING_DESPATCH, 1, Decimal("0.00"))  # fmt: skip
        assert row["outstanding_shop"] == row["current_total_price_shop"] == Decimal("10.00")
    w.pay(unpaid, True)  # the customer pays what is left, the warehouse ships it
    w.pay(authorised, True)  # the whole authorisation is captured (Shopify does not lower it)
    w.release()
    for i in (authorised, unpaid):
        w.despatch(i, False)
    w.fulfil()
    today, as_of = w.run()
    w.check(today, as_of)
    rows = w.rows(today)
    assert rows[w.ids[unpaid]]["received_shop"] == Decimal("10.00")
    assert rows[w.ids[authorised]]["outstanding_shop"] == Decimal("-10.00")  # the customer is owed
    assert {rows[w.ids[i]]["status"] for i in (authorised, unpaid)} == {rules.MATCHED}
