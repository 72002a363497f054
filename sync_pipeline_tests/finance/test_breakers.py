"""Finance breakers: the cases earlier reviews broke the reconciliation with, each through the real
finance code against both sandboxes, each row checked against what Shopify and Peoplevox say
(`world.py`'s oracle: every amount in both currencies to the penny, every unit, the status).

This file: despatches finance reads before or while the despatches flow settles them.

- a refund landing while a run is under way, after the warehouse shipped what it refunds;
- a despatch read before the despatches flow has fulfilled it in Shopify (packs count as lines);
- packages waiting to be settled, written again only when their units change;
- a bundle completed by a package not settled yet.

Refunds and edits are in `test_breakers_refunds.py`, returns in `test_breakers_returns.py` (one
file is one unit of work under `make test`'s `--dist loadfile`: three files spread over workers).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from sync_pipeline.lib.domain import reconciliation as rules
from sync_pipeline.lib.flows.despatches.read import read_despatches
from sync_pipeline.lib.flows.finance.reconcile import reconcile_days
from sync_pipeline.sandbox.shopify.control import (
    LineSpec,
    ProductSpec,
    VariantSpec,
)
from sync_pipeline.sandbox.traffic_money import refund_one_unit
from sync_pipeline_tests.finance.breakers import place, row_of
from sync_pipeline_tests.finance.world import RULES, World, world


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path, prices={"TEE-WHT-M": "9.99", "CAP-BLK-OS": "12.49"}) as made:
        yield made


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
