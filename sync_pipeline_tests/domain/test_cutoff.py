from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.lib.domain.cutoff import ChangeAction, can_change_in_warehouse, plan_change
from sync_pipeline.lib.domain.exceptions import ExceptionKind, Owner
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.sales_order import TranslatedOrder
from sync_pipeline.lib.domain.statuses import PeoplevoxStatus, status_rank
from sync_pipeline.lib.domain.translate import translate_order

from .factories import GOOD_ADDRESS, KNOWN_ITEM_CODES, PROPERTY, make_line, make_order
from .factories import RULES as _RULES

statuses = st.sampled_from(list(PeoplevoxStatus))
CUTOFF = PeoplevoxStatus.ALLOCATED


def test_before_and_after_default_cutoff() -> None:
    assert can_change_in_warehouse("New", "Allocated")
    assert not can_change_in_warehouse("Allocated", "Allocated")
    assert not can_change_in_warehouse(PeoplevoxStatus.PICKING, CUTOFF)
    assert not can_change_in_warehouse("Cancelled", "Despatched")


def test_unknown_status_is_past_any_cutoff() -> None:
    assert not can_change_in_warehouse("Closed", "Despatched")
    assert not can_change_in_warehouse(None, "Despatched")


@PROPERTY
@given(a=statuses, b=statuses, cutoff=statuses)
def test_monotonic(a: PeoplevoxStatus, b: PeoplevoxStatus, cutoff: PeoplevoxStatus) -> None:
    # Further along in the warehouse never makes a change possible again.
    if status_rank(a) <= status_rank(b) and can_change_in_warehouse(b, cutoff):
        assert can_change_in_warehouse(a, cutoff)


def sent_order(order: ShopOrder) -> TranslatedOrder:
    result = translate_order(order, _RULES, KNOWN_ITEM_CODES)
    assert isinstance(result, TranslatedOrder)
    return result


BASE = make_order(make_line("1", "TEE-BLK-M", 2), make_line("2", "CAP-BLK-OS", 1))
SENT = sent_order(BASE)


def plan(latest_order: ShopOrder, status: str | None = "New"):
    latest = translate_order(latest_order, _RULES, KNOWN_ITEM_CODES)
    return plan_change(SENT, latest, status, CUTOFF)


def test_no_change() -> None:
    assert plan(BASE).action is ChangeAction.NONE


def test_cancellation_before_cutoff_cancels() -> None:
    result = plan(BASE.model_copy(update={"cancelled_at": datetime(2026, 10, 2, tzinfo=UTC)}))
    assert result.action is ChangeAction.CANCEL


def test_cancellation_after_cutoff_is_an_exception_for_cx() -> None:
    result = plan(BASE.model_copy(update={"cancelled_at": datetime(2026, 10, 2, tzinfo=UTC)}), "Picking")
    assert result.action is ChangeAction.EXCEPTION
    (exception,) = result.exceptions
    assert (exception.kind, exception.owner) == (ExceptionKind.CHANGE_AFTER_CUTOFF, Owner.CX)
    assert "Picking" in exception.message and "cancelled" in exception.message
    assert "TEE-BLK-M × 2" in exception.message  # what the warehouse has


def test_added_item_and_raised_quantity_are_pushed() -> None:
    edited = make_order(
        make_line("1", "TEE-BLK-M", 3), make_line("2", "CAP-BLK-OS", 1), make_line("3", "SOCK-BLK-OS", 1)
    )
    result = plan(edited)
    assert result.action is ChangeAction.UPDATE
    assert [(r.ItemCode, r.QuantityOrdered) for r in result.item_rows] == [
        ("TEE-BLK-M", 3),
        ("SOCK-BLK-OS", 1),
    ]
    assert result.header_updates == {}


def test_address_change_is_a_partial_header_update() -> None:
    moved = BASE.model_copy(update={"shipping_address": GOOD_ADDRESS.model_copy(update={"city": "Leeds"})})
    result = plan(moved)
    assert result.action is ChangeAction.UPDATE
    assert result.header_updates == {
        "SalesOrderNumber": SENT.sales_order_number,
        "ShippingAddressCity": "Leeds",
    }


def test_removed_line_needs_a_manual_edit_and_nothing_is_pushed() -> None:
    edited = make_order(make_line("1", "TEE-BLK-M", 3))  # cap removed, tee raised
    result = plan(edited)
    assert result.action is ChangeAction.EXCEPTION and not result.item_rows
    (exception,) = result.exceptions
    assert (exception.kind, exception.owner) == (ExceptionKind.NEEDS_MANUAL_EDIT, Owner.CX)
    assert "removing CAP-BLK-OS (1 → 0)" in exception.message


def test_lowered_quantity_needs_a_manual_edit() -> None:
    result = plan(make_order(make_line("1", "TEE-BLK-M", 1), make_line("2", "CAP-BLK-OS", 1)))
    assert result.exceptions[0].kind is ExceptionKind.NEEDS_MANUAL_EDIT


def test_site_move_needs_a_manual_edit() -> None:
    result = plan(BASE.model_copy(update={"customer_tags": ("B2B",)}))
    assert result.exceptions[0].kind is ExceptionKind.NEEDS_MANUAL_EDIT
    assert "site" in result.exceptions[0].message


def test_edit_leaving_nothing_to_ship_cancels_before_cutoff() -> None:
    result = plan(make_order(make_line("1", "TEE-BLK-M", 0), make_line("2", "CAP-BLK-OS", 0)))
    assert result.action is ChangeAction.CANCEL


def test_edit_that_cannot_be_translated_passes_its_exceptions_on() -> None:
    result = plan(
        make_order(
            make_line("1", "TEE-BLK-M", 2), make_line("2", "CAP-BLK-OS", 1), make_line("3", "NEW-SKU", 1)
        )
    )
    assert result.action is ChangeAction.EXCEPTION
    assert result.exceptions[0].kind is ExceptionKind.UNMAPPED_SKU


def test_already_cancelled_in_warehouse() -> None:
    cancelled = BASE.model_copy(update={"cancelled_at": datetime(2026, 10, 2, tzinfo=UTC)})
    assert plan(cancelled, "Cancelled").action is ChangeAction.NONE
    assert plan(make_order(make_line("1", "TEE-BLK-M", 5)), "Cancelled").action is ChangeAction.EXCEPTION


@PROPERTY
@given(status=st.one_of(statuses, st.just("Closed"), st.none()), qty=st.integers(0, 4), cancel=st.booleans())
def test_no_change_is_dropped_silently(status: PeoplevoxStatus | str | None, qty: int, cancel: bool) -> None:
    latest = make_order(
        make_line("1", "TEE-BLK-M", qty),
        make_line("2", "CAP-BLK-OS", 1),
        cancelled_at=datetime(2026, 10, 2, tzinfo=UTC) if cancel else None,
    )
    result = plan(latest, status)
    changed = cancel or qty != 2
    if not changed:
        assert result.action is ChangeAction.NONE
    elif result.action is ChangeAction.EXCEPTION:
        assert result.exceptions
    elif result.action is ChangeAction.NONE:
        assert status == PeoplevoxStatus.CANCELLED and cancel
    else:
        assert can_change_in_warehouse(status, CUTOFF)
