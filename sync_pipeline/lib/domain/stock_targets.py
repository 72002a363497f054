"""What Shopify should show for each SKU at each location: the stock target.

    target = Peoplevox available at the mapped site
             − units Shopify has already taken off for orders Peoplevox has not allocated yet
             − buffer,                                                   floored at 0

Without the middle term every push would put back into Shopify the units of the orders still on
their way to the warehouse (paid, in the hold window, injecting, `New` in Peoplevox): Shopify took
them off when the orders were placed, Peoplevox has not, and the store could sell them twice.

**Units awaiting allocation** are counted per Shopify SKU and site, as the larger of:
- what the ledger knows: units on open orders Peoplevox has not allocated;
- what Shopify knows: its `committed` quantity at the location, less the units the ledger knows
  are committed for orders that are past allocation (or never go to the warehouse) and not yet
  fulfilled. This covers orders placed seconds ago that the ledger has not read yet.
Each estimate errs towards holding back more. Units awaiting allocation then become Peoplevox item
codes through each SKU's recipe (overrides, `bundles.yaml`), so a bundle on its way to the
warehouse holds back its components too.

**Bundles** that Shopify tracks as their own inventory item (configured in `bundles.yaml`) get the
minimum over their components of ⌊(available − awaiting) ÷ units per bundle⌋, less their buffer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from .buffers import BufferDecision

Recipe = tuple[tuple[str, int], ...]  # (Peoplevox item code, units per one of the SKU)
Key = tuple[str, str]  # (SKU or item code, site)


@dataclass(frozen=True)
class OpenOrderUnits:
    """Units of one SKU on one open Shopify order line (not cancelled, not yet fulfilled)."""

    sku: str
    site: str | None  # the Peoplevox site the order is routed to; None: not routed yet (every site)
    units: int
    # True: Peoplevox has not allocated these units (the order is ours still, injecting, or New).
    awaiting_allocation: bool


# Listing and Target are NamedTuples, not frozen dataclasses: a full reconcile makes one of each per
# SKU and location (100,000 at 50,000 SKUs), and a frozen dataclass costs three times as much to build.
class Listing(NamedTuple):
    """One Shopify variant at one location whose `available` we set."""

    sku: str
    inventory_item_id: str
    location_id: str
    site: str
    recipe: Recipe
    buffer: BufferDecision


class Target(NamedTuple):
    listing: Listing
    quantity: int
    peoplevox_available: int  # of the bottleneck component, in SKU units before reservations
    reserved: int  # units (of the bottleneck component) held for orders awaiting allocation


_VARIANT_MARK = " (variant "


def listing_key(sku: str, variant_id: str, first: bool) -> str:
    """What a variant's listing is keyed by (targets, positions, pushes): its SKU, or for a second
    variant of the same SKU its SKU and variant. Shopify does not make SKUs unique (a product
    duplicated in the admin keeps its SKUs); keyed by SKU alone, one variant's target hid the
    other's, which kept whatever it was last given (a review found 38 offered for 3)."""
    return sku if first else f"{sku}{_VARIANT_MARK}{variant_id.rsplit('/', 1)[-1]})"


def sku_of_key(key: str) -> str:
    """The SKU a listing key (`listing_key`; `Listing.sku`, `stock_positions.sku`) names: orders,
    recipes and the units held back are the SKU's. Assumes no real SKU ends in " (variant <digits>)":
    such a SKU would be read as its stem."""
    stem, mark, rest = key.rpartition(_VARIANT_MARK)
    return stem if mark and rest.endswith(")") and rest[:-1].isdigit() else key


def order_units_by_site(
    units: Iterable[OpenOrderUnits], sites: Sequence[str]
) -> tuple[dict[Key, int], dict[Key, int]]:
    """(units awaiting allocation, units committed for orders past allocation) per (SKU, site).

    An order not routed yet counts at every site: wherever it goes, it is held back there.
    """
    awaiting: dict[Key, int] = {}
    elsewhere: dict[Key, int] = {}
    for row in units:
        if row.units <= 0:
            continue
        target = awaiting if row.awaiting_allocation else elsewhere
        for site in [row.site] if row.site is not None else sites:
            target[(row.sku, site)] = target.get((row.sku, site), 0) + row.units
    return awaiting, elsewhere


def awaiting_estimate(known_awaiting: int, committed: int | None, known_elsewhere: int) -> int:
    """Units of a SKU Shopify has taken off that Peoplevox has not allocated (see module docstring)."""
    if committed is None:
        return known_awaiting
    return max(known_awaiting, committed - known_elsewhere, 0)


def reserved_by_item(estimates: Mapping[Key, int], recipes: Mapping[str, Recipe]) -> dict[Key, int]:
    """Units of each item code, per site, held for orders awaiting allocation."""
    reserved: dict[Key, int] = {}
    for (sku, site), units in estimates.items():
        if units <= 0:
            continue
        for code, per_unit in recipes.get(sku, ((sku, 1),)):
            reserved[(code, site)] = reserved.get((code, site), 0) + units * per_unit
    return reserved


def target_for(listing: Listing, available: Mapping[Key, int], reserved: Mapping[Key, int]) -> Target | None:
    """The quantity to show; None when Peoplevox has given no figure for a component at the site."""
    best: tuple[int, int, int] | None = None  # (sellable units, available units, reserved units)
    for code, per_unit in listing.recipe:
        key = (code, listing.site)
        if key not in available:
            return None
        held = reserved.get(key, 0)
        sellable = (available[key] - held) // per_unit
        if best is None or sellable < best[0]:
            best = (sellable, available[key] // per_unit, held)
    if best is None:
        return None
    quantity = max(0, best[0] - listing.buffer.buffer)
    return Target(listing, quantity, best[1], best[2])


def plan_targets(
    listings: Iterable[Listing],
    available: Mapping[Key, int],
    committed: Mapping[tuple[str, str], int | None],
    open_units: Iterable[OpenOrderUnits],
    recipes: Mapping[str, Recipe],
    sites: Sequence[str],
) -> list[Target]:
    """Targets for `listings`. `committed` is Shopify's committed per (listing key, location id).

    Orders are counted per SKU, so `committed` is too: every listing of a SKU (a second variant
    of it, `listing_key`) at a location adds its own. Compared listing by listing, the orders one
    variant sold past allocation were taken off the other's `committed`, which hid an order it had
    just taken that the ledger had not read yet (an oversell)."""
    listings = list(listings)
    awaiting, elsewhere = order_units_by_site(open_units, sites)
    estimates: dict[Key, int] = dict(awaiting)
    by_sku: dict[tuple[str, str], int] = {}  # (SKU, location id) → committed over its listings
    for key_, location_id in dict.fromkeys((lst.sku, lst.location_id) for lst in listings):
        shown_committed = committed.get((key_, location_id))
        if shown_committed is None or shown_committed <= 0:
            continue  # the estimate is what the ledger knows, already in `estimates`
        sku_location = (sku_of_key(key_), location_id)
        by_sku[sku_location] = by_sku.get(sku_location, 0) + shown_committed
    for listing in listings:
        sku = sku_of_key(listing.sku)
        shown = by_sku.get((sku, listing.location_id))
        if shown is not None:
            key = (sku, listing.site)
            estimates[key] = awaiting_estimate(awaiting.get(key, 0), shown, elsewhere.get(key, 0))
    reserved = reserved_by_item(estimates, recipes)
    targets = []
    for listing in listings:
        target = target_for(listing, available, reserved)
        if target is not None:
            targets.append(target)
    return targets
