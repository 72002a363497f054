"""Turn shippable lines into the units the warehouse picks.

- A line that Shopify already split (it has a `lineItemGroup`) is a component: it is kept as
  it is, even if its SKU is also a configured bundle, so nothing is exploded twice.
- A line whose SKU is a configured bundle becomes its components × quantity, recursively
  (nesting is allowed; the loader has already refused cycles).
- Everything else passes through.

Each component carries the share of the line's value proportional to its units, so the sum of
the values equals what the customer paid for the lines.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from .config.bundles import BundlesConfig
from .models import ShopLine

K = TypeVar("K", bound=Hashable)

# Far deeper than any real nesting; a guard in case rules were built without validation.
_MAX_DEPTH = 32


@dataclass(frozen=True)
class PickUnit:
    sku: str | None
    quantity: int
    value: Decimal  # total value of these units
    line_id: str
    line_name: str


def expand_bundle(sku: str, quantity: int, bundles: BundlesConfig) -> list[tuple[str, int]]:
    """Leaf SKUs and quantities for `quantity` of `sku`, merged, in first-seen order."""
    return merge_quantities(_expand(sku, quantity, bundles, 0))


def _expand(sku: str, quantity: int, bundles: BundlesConfig, depth: int) -> list[tuple[str, int]]:
    spec = bundles.bundles.get(sku)
    if spec is None:
        return [(sku, quantity)]
    if depth >= _MAX_DEPTH:
        raise ValueError(f"bundle {sku!r} nests deeper than {_MAX_DEPTH} levels (a cycle?)")
    leaves: list[tuple[str, int]] = []
    for component in spec.components:
        leaves.extend(_expand(component.sku, quantity * component.quantity, bundles, depth + 1))
    return leaves


def sku_recipe(
    sku: str, bundles: BundlesConfig, overrides: Mapping[str, str], split_by_shopify: bool = False
) -> tuple[tuple[str, int], ...]:
    """Peoplevox item codes (and units of each) that make one unit of `sku`.

    A configured bundle is its leaf components; every SKU goes through `sku_overrides.yaml`. A line
    Shopify already split (`split_by_shopify`: it has a `lineItemGroup`) is its own component.
    """
    if split_by_shopify or not bundles.is_bundle(sku):
        return ((overrides.get(sku, sku), 1),)  # most SKUs: one unit of one item
    leaves = expand_bundle(sku, 1, bundles)
    return tuple(merge_quantities((overrides.get(code, code), units) for code, units in leaves))


def merge_quantities(pairs: Iterable[tuple[K, int]]) -> list[tuple[K, int]]:
    totals: dict[K, int] = {}
    for key, quantity in pairs:
        totals[key] = totals.get(key, 0) + quantity
    return list(totals.items())


def explode_lines(lines: Iterable[ShopLine], bundles: BundlesConfig) -> list[PickUnit]:
    units: list[PickUnit] = []
    for line in lines:
        line_value = line.unit_price * line.quantity
        if line.bundle_group is not None or line.sku is None or not bundles.is_bundle(line.sku):
            units.append(PickUnit(line.sku, line.quantity, line_value, line.id, line.name))
            continue
        leaves = expand_bundle(line.sku, line.quantity, bundles)
        total_units = sum(quantity for _, quantity in leaves)
        for sku, quantity in leaves:
            share = line_value * quantity / total_units if total_units else Decimal("0")
            units.append(PickUnit(sku, quantity, share, line.id, line.name))
    return units
