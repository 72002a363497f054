"""Which listed orders the ingest reads in full (`lib/flows/orders/changes.py`), case by case."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.orders.changes import read_in_full
from sync_pipeline.lib.flows.orders.ingest import _behind
from sync_pipeline.lib.flows.orders.observed import SETTLE
from sync_pipeline.lib.flows.orders.records import naive
from sync_pipeline.lib.ledger.orders import OrderRow
from sync_pipeline_tests.domain.factories import T0, make_order
from sync_pipeline_tests.flows.standins.shopify import listed

HELD = make_order(updated_at=T0)
OURS = T0 + timedelta(minutes=3)  # the version our fulfilment produced


def _row(snapshot: ShopOrder, read_after: timedelta) -> OrderRow:
    return OrderRow(
        shopify_order_id=snapshot.id, legacy_id=None, order_name=snapshot.name, order_date=None,
        state="in_warehouse", financial_status=snapshot.financial_status, fulfillment_status=None,
        cancelled_at=naive(snapshot.cancelled_at), shopify_created_at=None,
        shopify_updated_at=naive(snapshot.updated_at), paid_seen_at=None, release_due_at=None,
        sales_order_number=None, site=None, channel=None, total_price=None, currency=None, pvx_status=None,
        pvx_status_at=None, change_pending=False, snapshot=snapshot.model_dump(mode="json"),
        snapshot_read_at=naive(snapshot.updated_at + read_after),
    )  # fmt: skip


SETTLED, UNSETTLED = SETTLE + timedelta(seconds=1), timedelta(seconds=1)


@pytest.mark.parametrize(
    ("case", "shopify", "read_after", "own", "expected"),
    [
        ("unchanged, read after its second", HELD, SETTLED, None, False),
        ("unchanged, but read within its second", HELD, UNSETTLED, None, True),
        ("unchanged version, yet a free field differs", HELD.model_copy(update={"email": "x@y.z"}), SETTLED, None, True),
        ("only our fulfilment changed it", HELD.model_copy(update={"updated_at": OURS}), SETTLED, OURS, False),
        ("our version over a snapshot read within its second", HELD.model_copy(update={"updated_at": OURS}), UNSETTLED, OURS, True),
        ("changed by someone else", HELD.model_copy(update={"updated_at": OURS}), SETTLED, None, True),
        ("changed after our fulfilment", HELD.model_copy(update={"updated_at": OURS + timedelta(seconds=1)}), SETTLED, OURS, True),
        ("cancelled in our second", HELD.model_copy(update={"updated_at": OURS, "cancelled_at": OURS}), SETTLED, OURS, True),
        ("refunded in our second", HELD.model_copy(update={"updated_at": OURS, "financial_status": "PARTIALLY_REFUNDED"}), SETTLED, OURS, True),
        ("a line edited in our second", HELD.model_copy(update={"updated_at": OURS, "lines": HELD.lines + HELD.lines[:1]}), SETTLED, OURS, True),
        ("tagged in our second", HELD.model_copy(update={"updated_at": OURS, "tags": ("b2b",)}), SETTLED, OURS, True),
        ("phone changed in our second", HELD.model_copy(update={"updated_at": OURS, "phone": "+44 7000 000000"}), SETTLED, OURS, True),
    ],
)  # fmt: skip
def test_read_in_full(
    case: str, shopify: ShopOrder, read_after: timedelta, own: datetime | None, expected: bool
) -> None:
    assert read_in_full(listed(shopify), _row(HELD, read_after), own) is expected, case


def test_an_unknown_order_is_read_in_full() -> None:
    assert read_in_full(listed(HELD), None, None)
    assert read_in_full(listed(HELD), dataclasses.replace(_row(HELD, SETTLED), snapshot=None), None)


def test_a_webhook_naming_our_own_version_is_left_to_the_poll() -> None:
    row = _row(HELD, SETTLED)
    assert not _behind(row, OURS, own_version=naive(OURS))
    assert _behind(row, OURS, own_version=None)
    assert _behind(row, OURS + timedelta(seconds=1), own_version=naive(OURS))  # a later change is read
    assert _behind(_row(HELD, UNSETTLED), OURS, own_version=naive(OURS))  # nothing trusted to build on
