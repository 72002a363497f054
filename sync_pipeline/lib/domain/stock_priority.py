"""Which stock changes go first: fast sellers, and in peak mode only they.

Velocity is units sold per hour over the last 24 hours (from the ledger's orders). A Peoplevox item
code's velocity is the sum over the Shopify SKUs that consume it (a bundle's sales count for its
components). Incremental runs re-read the items callbacks named fastest first; in peak mode the
slow ones wait for the hourly reconcile, which reads everything anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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


def waits_for_reconcile(
    code: str, velocity: Mapping[str, float], peak_on: bool, peak: PeakMode | None
) -> bool:
    """In peak mode an item selling slower than the threshold waits for the hourly reconcile."""
    return bool(peak_on and peak is not None and velocity.get(code, 0.0) < peak.slow_below_units_per_hour)
