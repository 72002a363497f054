"""`collect.account`: which orders are owed, split sales orders matched by reference, edited orders'
wanted lines from Shopify's current quantities, tracking numbers and notified fulfilments read from
Shopify's state. Hand-built observations (no servers): a mistake here would otherwise show only in
the opt-in real rehearsal."""

from collections import Counter
from datetime import datetime
from typing import Any

from sync_pipeline.rehearsal import collect
from sync_pipeline.rehearsal.accounting import KINDS, Accounting, StockView
from sync_pipeline.rehearsal.peak import PeakResult
from sync_pipeline.rehearsal.sale import Placed, Sale
from sync_pipeline.rehearsal.stock_watch import Shared

AT = datetime(2026, 11, 27, 9)
FULFILMENT = "gid://shopify/Fulfillment/1"


def _line(sku: str, current: int, ships: bool = True) -> dict[str, Any]:
    return {"sku": sku, "quantity": max(current, 2), "current_quantity": current, "requires_shipping": ships}


def _fulfilment(fid: str, tracking: str, notify: bool) -> dict[str, Any]:
    return {
        "id": fid,
        "tracking": [{"number": tracking, "company": "DPD", "url": None}],
        "notify_customer": notify,
    }


def _in_pvx(ref: str, status: str = "New", **lines: int) -> dict[str, Any]:
    return {"status": status, "ref": ref, "lines": Counter(lines)}


def _world() -> tuple[PeakResult, collect.Observed]:
    """Everything right: a plain order despatched in two packages and fulfilled (one fulfilment
    notified, with its email), an order edited in the hold window (a unit taken off, a line
    removed, a gift card that never ships), an order cancelled in the hold window, and a scarce
    shopper's order."""
    sale = Sale(planned=3, placed=[
        Placed("SHP-1", "#1001", "single", AT, "gid://shopify/Order/1"),
        Placed("SHP-2", "#1002", "edit_in_hold", AT, "gid://shopify/Order/2"),
        Placed("SHP-3", "#1003", "cancel_in_hold", AT, "gid://shopify/Order/3"),
    ])  # fmt: skip
    peak = PeakResult(sale, Shared(orders=[("SHP-9", "SCARCE-1", 1)]), [])
    shop_orders = [
        {"id": "gid://shopify/Order/1", "line_items": [_line("TEE", 1)],
         "fulfillments": [_fulfilment(FULFILMENT, "TRK-1", notify=True),
                          _fulfilment("gid://shopify/Fulfillment/9", "TRK-2", notify=False)]},
        {"id": "gid://shopify/Order/2", "line_items": [_line("TEE", 1), _line("MUG", 0), _line("GIFT", 1, ships=False)],
         "fulfillments": []},
        {"id": "gid://shopify/Order/3", "line_items": [_line("TEE", 0)], "fulfillments": []},
    ]  # fmt: skip
    seen = collect.Observed(
        shop_state={"orders": shop_orders, "stats": {}},
        emails=[
            {"kind": "shipping_confirmation", "fulfillment": FULFILMENT, "order": "gid://shopify/Order/1"}
        ],
        inventory_writes=[{"key": "push-1:0"}, {"key": "push-1:1"}],
        pvx_orders={
            "SHP-1": _in_pvx("#1001", "Despatched", TEE=1),
            "SHP-2": _in_pvx("#1002", TEE=1),
            "SHP-3": _in_pvx("#1003", "Cancelled", TEE=2),
            "SHP-9": _in_pvx("", "Allocated", **{"SCARCE-1": 1}),
        },
        packages={"TRK-1": ("PKG-1", AT), "TRK-2": ("PKG-2", AT)},
        pvx_counters={},
        timings=[],
        fulfilled_at={"PKG-1": AT, "PKG-2": AT},
        runs={},
        pushes_applied={"push-1": True},
        stock_levels={"SKU-A": StockView(5, 5)},
    )
    return peak, seen


def _counts(result: Accounting) -> dict[str, tuple[int, int]]:
    """(lost, duplicated) per kind, only the kinds that are not clean."""
    return {
        k: (result.lost[k], result.duplicated[k]) for k in KINDS if result.lost[k] or result.duplicated[k]
    }


def test_everything_in_place_is_clean() -> None:
    peak, seen = _world()
    result = collect.account(peak, seen)
    assert _counts(result) == {}, {k: t.examples for k, t in result.tallies.items()}
    assert result.clean and set(result.tallies) == set(KINDS)


def test_a_second_sales_order_carrying_the_orders_name_counts_against_that_order() -> None:
    peak, seen = _world()
    seen.pvx_orders["SHP-1-B"] = _in_pvx("#1001", TEE=1)  # split: another number, the same reference
    seen.pvx_orders["SHP-77"] = _in_pvx("#4242", TEE=1)  # no order placed carries this name
    result = collect.account(peak, seen)
    assert _counts(result) == {"orders": (0, 2)}
    assert set(result.tallies["orders"].examples) == {"SHP-1 ×2", "unexpected SHP-77"}


def test_an_edit_is_checked_against_shopifys_current_quantities() -> None:
    peak, seen = _world()
    seen.pvx_orders["SHP-2"] = _in_pvx("#1002", TEE=2, MUG=1)  # Peoplevox still holds the order as placed
    assert _counts(collect.account(peak, seen)) == {"edits": (0, 2)}
    seen.pvx_orders["SHP-2"] = _in_pvx("#1002", MUG=1)  # the kept unit missing, the removed line sent
    assert _counts(collect.account(peak, seen)) == {"edits": (1, 1)}


def test_an_edit_that_adds_a_variant_the_order_holds_wants_both_lines() -> None:
    """Session 7's rehearsal reported SHP-5000035150 duplicated (wants 1, has 3): the edit had added
    a second HOODIE-GRY-XS line (2 + 1) and the accounting kept only the last line's quantity."""
    peak, seen = _world()
    seen.shop_state["orders"][1]["line_items"].append(_line("TEE", 2))  # the same SKU, a new line
    seen.pvx_orders["SHP-2"] = _in_pvx("#1002", TEE=3)
    assert _counts(collect.account(peak, seen)) == {}
    seen.pvx_orders["SHP-2"] = _in_pvx("#1002", TEE=1)  # only the first line reached Peoplevox
    assert _counts(collect.account(peak, seen)) == {"edits": (2, 0)}


def test_an_order_cancelled_in_the_hold_window_must_not_be_live_in_peoplevox() -> None:
    peak, seen = _world()
    del seen.pvx_orders["SHP-3"]  # never sent: as good as cancelled there, and not a missing order
    assert _counts(collect.account(peak, seen)) == {}
    seen.pvx_orders["SHP-3"] = _in_pvx("#1003", "New", TEE=2)  # live: a lost cancellation, not an extra order
    result = collect.account(peak, seen)
    assert _counts(result) == {"cancellations": (1, 0)}
    assert result.tallies["cancellations"].examples == ("SHP-3 New",)


def test_a_tracking_number_on_two_fulfilments_is_duplicated_and_each_notified_one_owes_an_email() -> None:
    peak, seen = _world()
    again = _fulfilment("gid://shopify/Fulfillment/2", "TRK-1", notify=True)
    seen.shop_state["orders"][0]["fulfillments"].append(again)
    result = collect.account(peak, seen)
    assert _counts(result) == {"fulfilments": (0, 1), "emails": (1, 0)}
    assert result.tallies["fulfilments"].examples == ("TRK-1 ×2",)


def test_a_pooled_parcel_counts_as_fulfilled_when_its_number_is_among_a_fulfilments_numbers() -> None:
    """Session 9's rehearsal: a bundle's pooled parcels ride on the fulfilment completing it (one
    fulfilment, several tracking numbers); each parcel is fulfilled once, none lost."""
    peak, seen = _world()
    seen.packages["TRK-3"] = ("PKG-3", AT)
    assert _counts(collect.account(peak, seen)) == {"fulfilments": (1, 0)}  # on no fulfilment: lost
    carrying = seen.shop_state["orders"][0]["fulfillments"][0]
    carrying["tracking"].append({"number": "TRK-3", "company": "DPD", "url": None})
    assert _counts(collect.account(peak, seen)) == {}


def test_a_missing_order_is_lost_whether_the_sale_or_a_scarce_shopper_placed_it() -> None:
    peak, seen = _world()
    del seen.pvx_orders["SHP-1"], seen.pvx_orders["SHP-9"]
    result = collect.account(peak, seen)
    assert _counts(result) == {"orders": (2, 0)}
    assert set(result.tallies["orders"].examples) == {"missing SHP-1", "missing SHP-9"}


def test_a_missing_edited_order_is_an_order_lost_not_an_edit_lost() -> None:
    peak, seen = _world()
    del seen.pvx_orders["SHP-2"]
    assert _counts(collect.account(peak, seen)) == {"orders": (1, 0)}


def test_stock_writes_are_read_from_shopifys_writes_by_request_key() -> None:
    peak, seen = _world()
    seen.inventory_writes.append({"key": "push-1:1"})  # chunk 1 applied twice
    seen.inventory_writes.append({"key": None})  # a write under no key
    assert _counts(collect.account(peak, seen)) == {"stock_writes": (0, 2)}
