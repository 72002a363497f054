"""Finance breakers (see `test_breakers.py`): returns, each row checked by `world.py`'s oracle.

- a bundle coming back in parts, over several returns, graded differently;
- returns for Peoplevox sales orders whose numbers are hostile text;
- an item back that the order never had (keyed into the warehouse's sales order by hand).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_pipeline.defs.finance.metadata import returns_metadata
from sync_pipeline.lib.domain import reconciliation as rules
from sync_pipeline.sandbox.shopify.control import (
    LineSpec,
    ProductSpec,
    VariantSpec,
)
from sync_pipeline.sandbox.traffic_money import refund_one_unit
from sync_pipeline_tests.finance.breakers import place, row_of
from sync_pipeline_tests.finance.world import World, world


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path, prices={"TEE-WHT-M": "9.99", "CAP-BLK-OS": "12.49"}) as made:
        yield made


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
