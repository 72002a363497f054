"""When Shopify's fulfilment orders show line quantities the ledger's copy of the order has not
caught up with (an edit or refund not ingested yet). Pure: `plan.ledger_behind`, no sandbox."""

from __future__ import annotations

from sync_pipeline.lib.domain.fulfilment import FulfilmentOrderLine, LineNeed
from sync_pipeline.lib.flows.despatches.plan import ledger_behind
from sync_pipeline_tests.despatches.test_plan_locations import ORDER

NEEDS = [LineNeed("line-tee", (("TEE-BLK-M", 1),), 1), LineNeed("line-cap", (("CAP-NVY", 1),), 1)]


def _fo(fo: str, line: str, remaining: int, total: int | None) -> FulfilmentOrderLine:
    return FulfilmentOrderLine(fo, f"{fo}-{line}", line, remaining, "loc-wh", True, "OPEN", total=total)


def test_totals_that_match_the_copy_are_not_behind_even_split_over_two_fulfilment_orders() -> None:
    split = [_fo("fo-a", "line-tee", 1, 1), _fo("fo-a", "line-cap", 0, 0), _fo("fo-b", "line-cap", 1, 1)]
    assert ledger_behind(ORDER, NEEDS, split) is None


def test_a_line_shopify_holds_fewer_units_of_is_behind() -> None:
    edited = [_fo("fo-a", "line-tee", 1, 1), _fo("fo-a", "line-cap", 0, 0)]
    assert "line-cap" in (ledger_behind(ORDER, NEEDS, edited) or "")


def test_a_line_the_copy_lacks_is_behind() -> None:
    added = [_fo("fo-a", "line-tee", 1, 1), _fo("fo-a", "line-cap", 1, 1), _fo("fo-a", "line-new", 1, 1)]
    assert "line-new" in (ledger_behind(ORDER, NEEDS, added) or "")


def test_more_units_in_shopify_than_the_copy_is_not_behind() -> None:
    """A refund of a unit already fulfilled lowers the order's current quantity but not the fulfilment
    order's total: that must not hold the order's later packages for ever."""
    refunded_after_fulfilment = [_fo("fo-a", "line-tee", 0, 2), _fo("fo-a", "line-cap", 1, 1)]
    assert ledger_behind(ORDER, NEEDS, refunded_after_fulfilment) is None


def test_totals_not_read_say_nothing() -> None:
    assert ledger_behind(ORDER, NEEDS, [_fo("fo-a", "line-tee", 1, None)]) is None
