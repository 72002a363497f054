"""Finance breakers: the cases earlier reviews broke the reconciliation with, each through the real
finance code against both sandboxes, each row checked against what Shopify and Peoplevox say
(`world.py`'s oracle: every amount in both currencies to the penny, every unit, the status).

- a refund landing while a run is under way, after the warehouse shipped what it refunds;
- partial refunds on orders paid in another currency than the shop's (tax included and added);
- an order edited after a refund, down and up;
- a bundle coming back in parts, over several returns, graded differently;
- returns for Peoplevox sales orders whose numbers are hostile text.
- an item back that the order never had (keyed into the warehouse's sales order by hand);
- hostile refunds: goodwill (an amount, no goods) on a shipped order, beyond the order, of all of
  it, twice in the customer's currency only; shipping alone; units on authorised and unpaid orders.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from sync_pipeline.defs.finance.metadata import returns_metadata
from sync_pipeline.lib.domain import reconciliation as rules
from sync_pipeline.lib.flows.despatches.read import read_despatches
from sync_pipeline.lib.flows.finance.reconcile import reconcile_days
from sync_pipeline.lib.shopify import ShopifyUserErrors
from sync_pipeline.sandbox.shopify.control import (
    EditSpec,
    LineSpec,
    OrderSpec,
    ProductSpec,
    QuantityChange,
    ShippingLineSpec,
    VariantSpec,
)
from sync_pipeline.sandbox.traffic_money import refund_one_unit
from sync_pipeline_tests.despatches.helpers import UK
from sync_pipeline_tests.finance.world import RULES, World, world


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path, prices={"TEE-WHT-M": "9.99", "CAP-BLK-OS": "12.49"}) as made:
        yield made


def place(w: World, **spec: Any) -> int:
    w.ids.append(w.shop.place_order(OrderSpec(shipping_address=UK, **spec))["id"])
    return len(w.ids) - 1


def row_of(w: World, i: int) -> dict[str, Any]:
    today, as_of = w.run()
    w.check(today, as_of)
    return w.rows(today)[w.ids[i]]


def line_id(w: World, i: int, sku: str) -> str:
    return next(li["id"] for li in w.shop.get_order(w.ids[i])["line_items"] if li["sku"] == sku)


# -- a refund racing a despatch -----------------------------------------------------------------
@pytest.mark.parametrize("lands", ["before_money_read", "after_money_read"])
def test_refund_racing_a_despatch(w: World, lands: str) -> None:
    """The warehouse ships both units; before Shopify hears of it the customer has one cancelled
    and refunded (CANCEL: Shopify thinks it never left). The refund lands during a finance run,
    after the despatch read: before the money read (this run sees it) or after it (the next does)."""
    i = place(w, lines=[LineSpec(sku="TEE-BLK-M", quantity=2)])
    w.release()
    w.despatch(i, False)
    refund = lambda: refund_one_unit(w.client, w.ids[i], "CANCEL")  # noqa: E731
    if lands == "before_money_read":
        today, as_of = w.run(between=refund)
    else:
        today, _ = w.run(after_money=refund)
        stale = w.rows(today)[w.ids[i]]  # made before the run could know: the next one must
        assert (stale["units_despatched"], stale["units_refunded"], stale["refunded_shop"]) == (2, 0, 0)
        today, as_of = w.run()
    w.check(today, as_of)
    row = w.rows(today)[w.ids[i]]
    # Two shipped, one paid for: the customer has a unit finance refunded.
    assert (row["units_despatched"], row["units_to_despatch"], row["units_refunded"]) == (2, 1, 1)
    assert row["status"] == rules.QUANTITY_MISMATCH
    assert row["refunded_shop"] == Decimal("10.00")
    w.fulfil()  # the despatches flow fulfils the unit Shopify still has open
    assert row_of(w, i)["status"] == rules.QUANTITY_MISMATCH


def test_a_despatch_read_before_the_despatches_flow_settles_it(w: World) -> None:
    """The warehouse shipped two starter packs and a tee; finance runs before the despatches flow
    has fulfilled the package in Shopify (it waits for tracking): the package's items count as the
    order's line units already (a pack is one unit, at the pack's price), never as 9 units of items."""
    w.shop.add_product(
        ProductSpec(title="Starter", variants=[VariantSpec(sku="BUNDLE-STARTER", price="30.00")])
    )
    i = place(w, lines=[LineSpec(sku="BUNDLE-STARTER", quantity=2), LineSpec(sku="TEE-BLK-M")])
    w.release()
    w.despatch(i, False)
    today, _ = w.run()
    waiting = w.rows(today)[w.ids[i]]
    w.fulfil()
    today, _ = w.run()
    settled = w.rows(today)[w.ids[i]]
    for row in (waiting, settled):
        assert (row["units_despatched"], row["units_to_despatch"], row["status"]) == (3, 3, rules.MATCHED)
        assert row["despatched_value_shop"] == Decimal("70.00")


def test_waiting_packages_are_written_only_when_their_units_change(w: World) -> None:
    """Every reconciliation counts the packages the despatches flow has not settled yet; their unit
    rows are written only when the count changed, not again on every run."""
    i = place(w, lines=[LineSpec(sku="TEE-BLK-M", quantity=3)])
    w.release()
    w.pvx.despatch(w.number(i), [{"TEE-BLK-M": 1}])
    today, _ = w.run()
    w.pvx.despatch(w.number(i), [{"TEE-BLK-M": 2}])
    w.run()

    def reconcile() -> int:
        now = datetime.now(UTC)
        read_despatches(w.despatches, w.ledger, "test", now, timedelta(days=1))
        report = reconcile_days(w.ledger, w.exports, today, today + timedelta(days=1), now, RULES)
        return report.waiting_packages_rewritten

    # Two packages wait; only the newest, which the incremental pass takes again every time (its
    # cursor is inclusive), is written again.
    assert reconcile() == 1
    row = w.rows(today)[w.ids[i]]
    assert (row["units_despatched"], row["status"]) == (3, rules.MATCHED)


def test_a_bundle_completed_by_a_package_not_settled_yet(w: World) -> None:
    """A starter pack ships in two parcels: the tees first (settled: the despatches flow pools them),
    then the socks, read before the despatches flow settles them: one pack shipped."""
    w.shop.add_product(
        ProductSpec(title="Starter", variants=[VariantSpec(sku="BUNDLE-STARTER", price="30.00")])
    )
    i = place(w, lines=[LineSpec(sku="BUNDLE-STARTER")])
    w.release()
    w.pvx.despatch(w.number(i), [{"TEE-BLK-M": 1, "TEE-WHT-M": 1}])
    w.fulfil()
    today, _ = w.run()
    row = w.rows(today)[w.ids[i]]
    assert (row["units_despatched"], row["status"]) == (0, rules.AWAITING_DESPATCH)
    w.pvx.despatch(w.number(i), [{"SOCK-BLK-OS": 2}])
    today, _ = w.run()
    row = w.rows(today)[w.ids[i]]
    assert (row["units_despatched"], row["despatched_value_shop"], row["status"]) == (
        1,
        Decimal("30.00"),
        rules.MATCHED,
    )


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


# -- a bundle back in parts -----------------------------------------------------------------------
def test_bundle_back_in_parts_over_several_returns(w: World) -> None:
    """Two starter packs (a black tee, a white tee, two pairs of socks each) come back one item per
    return: a unit counts as returned once all its parts are back, and as reusable once reusable
    parts make a whole one, whichever returns they came in."""
    w.shop.add_product(
        ProductSpec(title="Starter", variants=[VariantSpec(sku="BUNDLE-STARTER", price="30.00")])
    )
    i = place(w, lines=[LineSpec(sku="BUNDLE-STARTER", quantity=2)])
    w.release()
    w.despatch(i, False)
    w.fulfil()
    number, seen = w.number(i), []
    for code, reusable, returned, on_shelf in [
        ("TEE-BLK-M", False, 0, 0),
        ("TEE-WHT-M", True, 0, 0),
        ("SOCK-BLK-OS", True, 0, 0),
        ("SOCK-BLK-OS", True, 1, 0),  # a whole pack back, its black tee damaged
        ("TEE-BLK-M", True, 1, 1),  # a reusable black tee: the shelf holds a whole pack
        ("TEE-WHT-M", False, 1, 1),
        ("SOCK-BLK-OS", True, 1, 1),
        ("SOCK-BLK-OS", False, 2, 1),
    ]:
        w.pvx.process_return(number, code, 1, "Changed mind" if reusable else "Damaged", reusable=reusable)
        today, _ = w.run()
        row = w.rows(today)[w.ids[i]]
        seen.append((row["units_despatched"], row["units_returned"], row["units_returned_reusable"]))
        assert seen[-1] == (2, returned, on_shelf), seen


@pytest.mark.parametrize(
    ("graded", "expected"),
    [
        ({"TEE-BLK-M": [True], "TEE-WHT-M": [True], "SOCK-BLK-OS": [True, True]}, (1, 1)),
        ({"TEE-BLK-M": [True], "TEE-WHT-M": [False], "SOCK-BLK-OS": [True, True]}, (1, 0)),
        # One item, two units graded apart in the same return: two rows under one code.
        ({"TEE-BLK-M": [True], "TEE-WHT-M": [True], "SOCK-BLK-OS": [True, False]}, (1, 0)),
    ],
    ids=["all_reusable", "one_part_damaged", "one_unit_of_a_part_damaged"],
)
def test_bundle_back_in_one_return(
    w: World, graded: dict[str, list[bool]], expected: tuple[int, int]
) -> None:
    w.shop.add_product(
        ProductSpec(title="Starter", variants=[VariantSpec(sku="BUNDLE-STARTER", price="30.00")])
    )
    i = place(w, lines=[LineSpec(sku="BUNDLE-STARTER")])
    w.release()
    w.despatch(i, False)
    w.fulfil()
    code: str | None = None
    for item, grades in graded.items():
        for reusable, units in Counter(grades).items():
            code = w.pvx.process_return(
                w.number(i), item, units, "Parcel", reusable=reusable, return_code=code
            )
    today, _ = w.run()
    row = w.rows(today)[w.ids[i]]
    assert (row["units_returned"], row["units_returned_reusable"]) == expected
    assert {r["code"] for r in w.pvx.state().returns} == {code}


def test_one_item_graded_two_ways_in_one_return(w: World) -> None:
    """Three tees back in one parcel: two go back on the shelf, one is written off."""
    i = place(w, lines=[LineSpec(sku="TEE-BLK-M", quantity=3)])
    w.release()
    w.despatch(i, False)
    w.fulfil()
    code = w.pvx.process_return(w.number(i), "TEE-BLK-M", 2, "Too small", reusable=True)
    w.pvx.process_return(w.number(i), "TEE-BLK-M", 1, "Torn", reusable=False, return_code=code)
    row = row_of(w, i)  # the oracle: Peoplevox's own returns, unit for unit
    assert (row["units_returned"], row["units_returned_reusable"]) == (3, 2)


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


# -- hostile sales order numbers ------------------------------------------------------------------
HOSTILE = [
    '=HYPERLINK("http://x","y")',
    'a,"b"\r\nc',
    "SHP-1' OR '1'='1",
    "| cell | cell |",
    "<script>x</script>",
    "  ",
]


def test_returns_for_sales_orders_with_hostile_numbers(w: World) -> None:
    i = place(w, lines=[LineSpec(sku="TEE-BLK-M")])
    w.release()
    w.despatch(i, False)
    w.fulfil()
    ours = w.number(i)
    # Orders someone keyed into Peoplevox by hand, one a near copy of ours.
    numbers = [*HOSTILE, f" {ours}", ours.lower(), f"{ours}\t"]
    for n in numbers:
        w.pvx_client.save_data("Sales orders", [{"SalesOrderNumber": n}])
        w.pvx_client.save_data(
            "Sales order items",
            [{"SalesOrderNumber": n, "ItemCode": "TEE-BLK-M", "QuantityOrdered": 1, "Line": "1"}],
        )
        w.pvx.force_status(n, "Despatched")
        w.pvx.process_return(n, "TEE-BLK-M", 1, "=1+1", reusable=True)
    row = row_of(w, i)
    assert (row["units_returned"], row["status"]) == (0, rules.MATCHED)  # none of them is ours
    report = w.returns_report
    assert sorted(report.unmatched) == sorted(numbers)
    # The Dagster UI's table of them: one row each, every cell where it belongs.
    table = returns_metadata(report, False)["sales_orders_not_ours"].value
    lines = table.split("\n")
    assert len(lines) == 2 + len(numbers), table
    for line in lines[2:]:
        assert line.startswith("| ") and line.endswith(" |") and "|" not in line[2:-2].replace("\\|", ""), (
            line
        )
    # A real return of ours still counts.
    w.warehouse_return(i, True)
    row = row_of(w, i)
    assert (row["units_returned"], row["units_returned_reusable"], row["status"]) == (
        1,
        1,
        rules.RETURNED_NOT_REFUNDED,
    )


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


# -- an item back that the order never had ---------------------------------------------------------
def test_an_item_returned_that_the_order_never_had_is_counted_and_flagged(w: World) -> None:
    """Someone keys a cap into our Peoplevox sales order by hand; the warehouse ships it with the
    tees and the customer sends the cap back. No Shopify line is a cap: the return counts on no
    line, so it is counted apart and the order is a `quantity_mismatch` finance looks at."""
    i = place(w, lines=[LineSpec(sku="TEE-BLK-M", quantity=2)])
    w.release()
    number = w.number(i)
    w.pvx_client.save_data(
        "Sales order items",
        [{"SalesOrderNumber": number, "ItemCode": "CAP-BLK-OS", "QuantityOrdered": 1, "Line": "9"}],
    )
    w.despatch(i, False)
    w.fulfil()
    w.pvx.process_return(number, "CAP-BLK-OS", 1, "Not mine", reusable=True)
    row = row_of(w, i)  # the oracle: Peoplevox's returns split by the order's own lines
    assert (row["units_returned"], row["units_returned_unmatched"], row["units_returned_reusable"]) == (
        0,
        1,
        0,
    )
    assert row["status"] == rules.QUANTITY_MISMATCH
    w.pvx.process_return(number, "TEE-BLK-M", 1, "Too small", reusable=True)
    refund_one_unit(w.client, w.ids[i], "RETURN", sku="TEE-BLK-M")
    row = row_of(w, i)  # a tee back and refunded: the cap still stands out
    assert (row["units_returned"], row["units_returned_unmatched"], row["status"]) == (
        1, 1, rules.QUANTITY_MISMATCH)  # fmt: skip
