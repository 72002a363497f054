"""Which Shopify lines the warehouse must pick.

Left out: gift cards, lines that do not require shipping (digital goods, services, tips) and
lines with nothing left (`currentQuantity` 0 after removal or refund). A free line that ships
(a sample, a gift with purchase) is still picked: price has nothing to do with shipping.
"""

from __future__ import annotations

from collections.abc import Iterable

from .models import ShopLine


def is_shippable(line: ShopLine) -> bool:
    return line.requires_shipping and not line.is_gift_card and line.quantity > 0


def shippable_lines(lines: Iterable[ShopLine]) -> list[ShopLine]:
    return [line for line in lines if is_shippable(line)]
