"""Who goes first: quiet rows, then fast sellers; slow sellers wait only for a contested bucket.

Velocity is units sold per hour over the last 24 hours (from the ledger's orders). A Peoplevox item
code's velocity is the sum over the Shopify SKUs that consume it (a bundle's sales count for its
components). Incremental runs re-read the items callbacks named fastest first, and push the quiet
rows first (below), then the rest fastest first.

Peak mode and the Shopify budget (issue 9 asks that slow sellers wait for the hourly reconcile in
peak mode; issue 13 that every stock change reach Shopify within 30 s). A slow seller's push waits
only while it would take Shopify budget that a backlogged flow needs: peak mode is on, orders or
fulfilments are behind, and the bucket has no room (they are drawing it down), and it is not quiet
(below: a quiet one rides in the first request while that has room). When the bucket has room it goes now, after the
fast sellers (a quiet one before them). A push that lowers Shopify never waits: it closes an
oversell window, and a goods-in or a processed return (which only raise stock) is never an oversell
risk, so waiting is the one thing that can be traded for budget. The session-7 rehearsal held 300
goods-in on slow sellers for the whole of peak mode (p95 1,013 s) with Shopify's budget 34 % used.

Quiet rows first (`is_quiet`, `quiet_first`). Shopify applies an `inventorySetQuantities` whole or
not at all, and a sale that moves any row's level between our read and our write sinks the request
(compare-and-set). A row whose SKU nothing is selling (no velocity, no open or unfulfilled units)
cannot go stale that way, so the quiet rows go first, in requests of their own: the first request of
a run always goes, and carrying only quiet rows it is applied. A rehearsal at 1,500 orders a
minute (December 2026) sent its goods-in last, in one request with up to 250 fast sellers that the sale
kept moving: the request came back stale, the run's time was up, and the goods-in were deferred run
after run until the sale ended (p95 237 s). A slow seller that is quiet rides in that first request
even when it would wait for room (see `quiet_first`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

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


def is_quiet(
    units_per_hour: float, item_units_per_hour: Iterable[float], open_units: int, committed: int | None
) -> bool:
    """Whether nothing the ledger or Shopify knows of is moving this listing's Shopify level, so a
    compare-and-set write of it cannot come back stale (barring a first sale in the meantime). Its
    SKU sold nothing over the last 24 h (`units_per_hour`), nor did anything consuming its items
    (`item_units_per_hour`: a Shopify bundle's sale moves its components' levels too), and no order
    holds units of it: none open in the ledger (`open_units`), none unfulfilled in Shopify
    (`committed`, which also counts orders the ledger has not read); a cancellation restocks them."""
    return (
        units_per_hour == 0 and all(v == 0 for v in item_units_per_hour) and open_units == 0 and not committed
    )


def quiet_first(
    go: Sequence[tuple[str, str]],
    waiting: Sequence[tuple[str, str]],
    quiet: Collection[tuple[str, str]],
    first_request_rows: int,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """(`order_pushes`' split) → (quiet rows, sent first in requests of their own; the moving rows,
    fastest sellers first, after them; the rows that still wait for room).

    A quiet slow seller that would wait for room rides in the first request instead, while that has
    room (`first_request_rows`: a request's rows, 0 when no request will go at all). Waiting saves
    one mutation's points (~10) at most, and none when the request goes anyway; and a push that waits
    is read again by the next run, its Shopify levels included, which costs far more than it saved
    (~900 points a run's levels read, in the rehearsal the module docstring describes). What the rule is for still
    holds for the rest: a slow seller that is moving (it could come back stale and cost re-reads
    and requests of its own) or that would need a request beyond the first keeps waiting while the
    backlogged flows need the bucket."""
    first = [k for k in go if k in quiet]
    room = max(0, first_request_rows - len(first))
    riders = [k for k in waiting if k in quiet][:room]
    rode = set(riders)
    return first + riders, [k for k in go if k not in quiet], [k for k in waiting if k not in rode]
