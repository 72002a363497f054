"""Peoplevox packages back to Shopify lines: the reverse of SKU overrides and bundle explosion.

The warehouse ships item codes; Shopify fulfils its own line items. Each shippable Shopify line
has a *recipe*: the item codes (and units of each) that make one unit of the line. A plain line
is one unit of its SKU's item code (after `sku_overrides.yaml`); a bundle from `bundles.yaml` is
its leaf components, each through the overrides; a line Shopify already split (`lineItemGroup`)
is its own component.

`allocate` turns one package into whole line units. Units despatched earlier that completed no
line unit yet (one component of a bundle) wait in a *pool*, so a bundle is fulfilled in whole
bundles by the package that completes one. Plain lines are served before bundles, in line order:
a customer sees a shipped item as shipped as soon as possible, and the result is the same once
everything has shipped. Units nobody ordered are reported as excess, never fulfilled.

`spread` places those line quantities on Shopify's fulfilment order line items, never above
`remainingQuantity`, on one location (a fulfilment must be for one location). When they sit at two
locations, `gather` says which fulfilment order line items to move (`fulfillmentOrderMove`) so
that all of them are at one, or that they cannot all be moved.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .bundles import sku_recipe
from .config.bundles import BundlesConfig
from .models import ShopLine
from .shippable import shippable_lines


@dataclass(frozen=True)
class LineNeed:
    """One Shopify line as the warehouse sees it."""

    line_id: str
    recipe: tuple[tuple[str, int], ...]  # (item code, units per line unit), codes unique
    ordered: int  # line units to ship (Shopify's current quantity)

    @property
    def is_plain(self) -> bool:
        return len(self.recipe) == 1 and self.recipe[0][1] == 1


def line_needs(
    lines: Iterable[ShopLine], bundles: BundlesConfig, overrides: Mapping[str, str]
) -> list[LineNeed]:
    """Recipes of the lines the warehouse was asked to ship (gift cards, digital goods left out)."""
    needs = []
    for line in shippable_lines(lines):
        if not line.sku:
            continue  # such an order was held; nothing of it can have shipped
        recipe = sku_recipe(line.sku, bundles, overrides, split_by_shopify=line.bundle_group is not None)
        needs.append(LineNeed(line.id, recipe, line.quantity))
    return needs


@dataclass(frozen=True)
class Allocation:
    lines: dict[str, int]  # line id → line units this package fulfils
    pool: Counter[str]  # units despatched that complete no line unit yet (carried to the next package)
    excess: Counter[str]  # units beyond everything still wanted (over-despatch)


def _capacity(recipe: Sequence[tuple[str, int]], available: Mapping[str, int]) -> int:
    return min(available.get(code, 0) // units for code, units in recipe)


def allocate(
    needs: Sequence[LineNeed],
    fulfilled: Mapping[str, int],
    pool: Mapping[str, int],
    package: Mapping[str, int],
) -> Allocation:
    """Line units that `package` (with the `pool` left by earlier packages) completes.

    `fulfilled` is line units already fulfilled (by us or by hand); no line goes above `ordered`.
    """
    available: Counter[str] = Counter({k: v for k, v in pool.items() if v > 0})
    available.update({k: v for k, v in package.items() if v > 0})
    order = sorted(range(len(needs)), key=lambda i: (not needs[i].is_plain, i))
    taken: dict[str, int] = {}
    for index in order:
        need = needs[index]
        wanted = need.ordered - fulfilled.get(need.line_id, 0) - taken.get(need.line_id, 0)
        if wanted <= 0 or not need.recipe:
            continue
        units = min(wanted, _capacity(need.recipe, available))
        if units <= 0:
            continue
        taken[need.line_id] = taken.get(need.line_id, 0) + units
        for code, per in need.recipe:
            available[code] -= units * per
    # Whatever no open line could ever use is excess: the warehouse sent more than was ordered.
    still_wanted: Counter[str] = Counter()
    for need in needs:
        left = need.ordered - fulfilled.get(need.line_id, 0) - taken.get(need.line_id, 0)
        for code, per in need.recipe:
            still_wanted[code] += max(0, left) * per
    excess = Counter(
        {code: n - still_wanted[code] for code, n in available.items() if n > still_wanted[code]}
    )
    pool_after = Counter({code: n - excess.get(code, 0) for code, n in available.items()})
    return Allocation({k: v for k, v in taken.items() if v}, +pool_after, +excess)


def consumed(needs: Sequence[LineNeed], lines: Mapping[str, int]) -> Counter[str]:
    """The item units that `lines` (line id → line units) are made of, by each line's recipe."""
    used: Counter[str] = Counter()
    for need in needs:
        for code, per in need.recipe:
            used[code] += per * lines.get(need.line_id, 0)
    return used


def settled_pool(
    needs: Sequence[LineNeed],
    accounted: Mapping[str, int],
    shipped: Mapping[str, int],
    excess: Mapping[str, int],
) -> Counter[str]:
    """The pool settled packages leave: what they `shipped` (item units) less what the line units
    they account for are made of and less what was recorded as `excess` (parts of a bundle waiting
    for the rest). The despatches flow plans the next package from it; finance counts a package not
    settled yet from it the same way."""
    return +(Counter(shipped) - consumed(needs, accounted) - Counter(excess))


@dataclass(frozen=True)
class FulfilmentOrderLine:
    """One line item of a Shopify fulfilment order, as read just before fulfilling."""

    fulfillment_order_id: str
    fo_line_id: str
    line_id: str  # the order's line item it belongs to
    remaining: int
    location_id: str | None
    fulfillable: bool  # the fulfilment order is OPEN/IN_PROGRESS and supports CREATE_FULFILLMENT
    status: str
    location_name: str | None = None  # as the Shopify admin shows it (stock.yaml maps sites to these)
    movable: bool = False  # MOVE is in the fulfilment order's supportedActions
    # `totalQuantity`: the line's units on this fulfilment order, fulfilled or not (None: not read).
    # Summed over an order's fulfilment orders it is the line's current quantity in Shopify.
    total: int | None = None


@dataclass(frozen=True)
class Spread:
    location_id: str | None
    request: dict[str, dict[str, int]]  # fulfilment order id → {FO line item id: quantity}
    lines: dict[str, int]  # line id → quantity placed
    # line id → units that could not be placed, and why (held/closed FO, already fulfilled, other location)
    short: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.request


def spread(wanted: Mapping[str, int], fo_lines: Sequence[FulfilmentOrderLine]) -> Spread:
    """Place line quantities on fulfilment order line items of one location, never above remaining.

    The location is the one that can take the most units (the warehouse's, normally); what the
    chosen location cannot take is reported in `short` with the reason.
    """
    by_location: dict[str | None, int] = {}
    for fol in fo_lines:
        if fol.fulfillable and fol.remaining > 0 and fol.line_id in wanted:
            by_location[fol.location_id] = by_location.get(fol.location_id, 0) + min(
                fol.remaining, wanted[fol.line_id]
            )
    location = max(by_location, key=lambda loc: (by_location[loc], str(loc))) if by_location else None
    request: dict[str, dict[str, int]] = {}
    placed: dict[str, int] = {}
    for fol in fo_lines:
        if not (fol.fulfillable and fol.location_id == location and fol.line_id in wanted):
            continue
        take = min(fol.remaining, wanted[fol.line_id] - placed.get(fol.line_id, 0))
        if take > 0:
            request.setdefault(fol.fulfillment_order_id, {})[fol.fo_line_id] = take
            placed[fol.line_id] = placed.get(fol.line_id, 0) + take
    short = {}
    for line_id, quantity in wanted.items():
        missing = quantity - placed.get(line_id, 0)
        if missing > 0:
            short[line_id] = (missing, _why_short(line_id, fo_lines, location))
    return Spread(location, request, placed, short)


# Reasons a line's units could not be placed, most actionable first.
ON_HOLD, CLOSED, ALREADY_FULFILLED, OTHER_LOCATION, NOT_ON_ANY = (
    "on_hold",
    "closed",
    "already_fulfilled",
    "other_location",
    "not_on_any_fulfilment_order",
)


def _why_short(line_id: str, fo_lines: Sequence[FulfilmentOrderLine], location: str | None) -> str:
    mine = [f for f in fo_lines if f.line_id == line_id]
    if not mine:
        return NOT_ON_ANY
    if any(f.status == "ON_HOLD" and f.remaining > 0 for f in mine):
        return ON_HOLD
    if any(f.fulfillable and f.remaining > 0 and f.location_id != location for f in mine):
        return OTHER_LOCATION
    if any(not f.fulfillable and f.remaining > 0 for f in mine):
        return CLOSED
    return ALREADY_FULFILLED


@dataclass(frozen=True)
class Move:
    """Units of fulfilment order line items to assign to another location (`fulfillmentOrderMove`)."""

    fulfillment_order_id: str
    location_id: str  # where to
    lines: dict[str, int]  # FO line item id → units


def gather(
    wanted: Mapping[str, int], fo_lines: Sequence[FulfilmentOrderLine], target: str
) -> list[Move] | None:
    """The moves that bring `wanted` (line id → units) onto fulfillable fulfilment orders at
    `target`, or None when some units sit on a fulfilment order that cannot be moved (held, closed,
    progress reported) or on none. Units with no remaining quantity anywhere were fulfilled by hand:
    not wanted (as `spread` counts them).
    """
    moves: dict[str, dict[str, int]] = {}
    for line_id, quantity in wanted.items():
        if not any(f.line_id == line_id for f in fo_lines):
            return None  # on no fulfilment order at all: nothing to move it from
        mine = [f for f in fo_lines if f.line_id == line_id and f.remaining > 0]
        need = min(quantity, sum(f.remaining for f in mine))
        need -= sum(f.remaining for f in mine if f.fulfillable and f.location_id == target)
        for f in mine:
            if need <= 0:
                break
            if f.location_id == target or not (f.fulfillable and f.movable):
                continue
            take = min(need, f.remaining)
            moves.setdefault(f.fulfillment_order_id, {})[f.fo_line_id] = take
            need -= take
        if need > 0:
            return None
    return [Move(fo, target, lines) for fo, lines in moves.items()]
