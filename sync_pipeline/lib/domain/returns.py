"""Warehouse returns back to Shopify lines: what a `Return summary` row means in line units.

Peoplevox returns item codes; finance counts Shopify line units (a bundle unit is one unit). The
same reversal as for despatched packages (`fulfilment.py`) applies: each line's recipe of item
codes after SKU overrides and bundles, whole line units only, and units that complete no line
unit yet (one part of a bundle) wait in a pool for the order's next return. Returns are taken in
the order they were processed; a unit nobody ordered counts on no line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from .fulfilment import LineNeed, allocate

# Any number of units of a line may come back (what was despatched is for the reconciliation to
# compare): the recipe decides which line, not a quantity.
UNBOUNDED = 10**9


def return_units(
    needs: Sequence[LineNeed], returns: Iterable[tuple[str, Mapping[str, int]]]
) -> dict[str, dict[str, int]]:
    """`{return code: {line id: line units}}` for an order's returns, oldest first."""
    open_needs = [replace(n, ordered=UNBOUNDED) for n in needs]
    pool: Counter[str] = Counter()
    out: dict[str, dict[str, int]] = {}
    for code, items in returns:
        allocation = allocate(open_needs, {}, pool, items)
        out[code] = allocation.lines
        pool = allocation.pool
    return out
