"""Warehouse returns back to Shopify lines: what a `Return summary` row means in line units.

Peoplevox returns item codes; finance counts Shopify line units (a bundle unit is one unit). The
same reversal as for despatched packages (`fulfilment.py`) applies: each line's recipe of item
codes after SKU overrides and bundles, whole line units only, and units that complete no line
unit yet (one part of a bundle) wait in a pool for the order's next return. Returns are taken in
the order they were processed; a unit nobody ordered counts on no line, and is counted apart
(`unmatched_items`): finance must see goods that came back for an order that never had them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

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


@dataclass(frozen=True)
class GradedItem:
    """One item code of one processed return, as the warehouse graded it."""

    return_code: str
    item_code: str
    quantity: int
    reusable: bool


def count_returns(
    needs: Sequence[LineNeed], items: Iterable[GradedItem]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """`{return code: {line id: line units}}` for an order's returned items (oldest first), and the
    same for the units graded reusable.

    A line unit is reusable when the items it is made of came back reusable (half a bundle on the
    shelf does not sell the bundle), whichever returns they came in: the warehouse picks a bundle
    as its parts. So the reusable units are the whole line units the reusable items alone make,
    never more than came back, and they are booked against the returns that brought the line's
    units back, oldest first: no return ever holds more reusable units than returned ones.
    """
    everything: dict[str, dict[str, int]] = {}
    graded: dict[str, dict[str, int]] = {}
    for r in items:
        for by_code in (everything, graded) if r.reusable else (everything,):
            found = by_code.setdefault(r.return_code, {})
            found[r.item_code] = found.get(r.item_code, 0) + r.quantity
    returned = return_units(needs, everything.items())
    # The reusable items taken in the same order as all of them: when every item is reusable, the
    # two agree line by line.
    shelf: Counter[str] = Counter()
    for lines in return_units(needs, graded.items()).values():
        shelf.update(lines)
    reusable: dict[str, dict[str, int]] = {}
    for code, lines in returned.items():
        for line, units in lines.items():
            if take := min(units, shelf[line]):
                reusable.setdefault(code, {})[line] = take
                shelf[line] -= take
    return returned, reusable


def unmatched_items(needs: Sequence[LineNeed], items: Iterable[GradedItem]) -> dict[str, dict[str, int]]:
    """`{return code: {item code: units}}` of returned items that no line of the order is made of
    (after SKU overrides and bundles): booked on the wrong order, or an item the warehouse added.
    They can never complete a line unit, so `count_returns` counts them on no line."""
    known = {code for need in needs for code, _ in need.recipe}
    out: dict[str, dict[str, int]] = {}
    for r in items:
        if r.item_code not in known and r.quantity > 0:
            found = out.setdefault(r.return_code, {})
            found[r.item_code] = found.get(r.item_code, 0) + r.quantity
    return out
