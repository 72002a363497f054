from __future__ import annotations

from datetime import UTC, datetime

from sync_pipeline.lib.domain.diff import EventKind, describe_changes

from .factories import GOOD_ADDRESS, make_line, make_order

BASE = make_order(make_line("1", "TEE-BLK-M", 2), make_line("2", "CAP-BLK-OS", 1))


def kinds(before, after) -> list[EventKind]:
    return [event.kind for event in describe_changes(before, after)]


def test_first_sight_of_a_paid_order() -> None:
    assert kinds(None, BASE) == [EventKind.PAID]
    assert kinds(None, BASE.model_copy(update={"financial_status": "PENDING"})) == []


def test_payment_arrives() -> None:
    assert kinds(BASE.model_copy(update={"financial_status": "PENDING"}), BASE) == [EventKind.PAID]


def test_unchanged_order_has_no_events() -> None:
    assert kinds(BASE, BASE) == []


def test_lines_changed_names_skus_and_quantities() -> None:
    after = make_order(
        make_line("1", "TEE-BLK-M", 1), make_line("3", "SOCK-BLK-OS", 3), make_line("2", "CAP-BLK-OS", 1)
    )
    (event,) = describe_changes(BASE, after)
    assert event.kind is EventKind.LINES_CHANGED
    assert event.message == "#1001: TEE-BLK-M 2 → 1; SOCK-BLK-OS 0 → 3"


def test_address_change_names_fields() -> None:
    after = BASE.model_copy(
        update={"shipping_address": GOOD_ADDRESS.model_copy(update={"zip": "LS1 1AA", "city": "Leeds"})}
    )
    (event,) = describe_changes(BASE, after)
    assert event.kind is EventKind.ADDRESS_CHANGED and "city, zip" in event.message


def test_cancel_and_refund() -> None:
    after = BASE.model_copy(
        update={"cancelled_at": datetime(2026, 10, 2, tzinfo=UTC), "financial_status": "REFUNDED"}
    )
    assert kinds(BASE, after) == [EventKind.REFUNDED, EventKind.CANCELLED]


def test_other_edits() -> None:
    after = BASE.model_copy(update={"shipping_line_title": "Express", "tags": ("vip",)})
    (event,) = describe_changes(BASE, after)
    assert event.kind is EventKind.EDITED and "shipping method" in event.message and "tags" in event.message
