from __future__ import annotations

from decimal import Decimal

from sync_pipeline.lib.domain.shippable import is_shippable, shippable_lines

from .factories import make_line


def test_gift_cards_digital_and_empty_lines_do_not_ship() -> None:
    assert not is_shippable(make_line(is_gift_card=True))
    assert not is_shippable(make_line(requires_shipping=False))
    assert not is_shippable(make_line(quantity=0))


def test_free_lines_that_ship_do_ship() -> None:
    assert is_shippable(make_line(unit_price=Decimal("0")))


def test_order_is_kept() -> None:
    lines = [make_line("1"), make_line("2", is_gift_card=True), make_line("3")]
    assert [line.id for line in shippable_lines(lines)] == ["1", "3"]
