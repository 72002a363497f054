"""Peak mode switching on or off: the listings whose target it moves go to Shopify at once.

Peak mode (stock_buffers.yaml `peak`) adds `extra_buffer` to every buffer not set by SKU while
orders arrive faster than `orders_per_minute`. Every push judges it for the listings it computes,
but a push computes only the listings whose items were read: without this, the switch reached the
rest of the catalogue at the hourly reconcile. Switching on, Shopify kept the smaller buffer (the
safety-critical direction: the store sold units peak mode meant to hold back); switching off, it
kept available − (buffer + extra) for every SKU.

The orders flow's ingest run (which records the orders that make the rate, and polls at least once
a minute, so it also sees the rate fall) calls `follow_peak_mode` after each live read. When the
mode differs from the newest switch in the ledger, it records the switch (`stock_peak_switches`,
what ops read) and, in the same transaction, queues the items of the listings the switch moves (from
the positions last pushed) for the next stock run, or, when they are more than
`peak_switch_max_items`, marks the switch as wanting one full reconcile, which a sensor launches
(`peak_mode_reconcile`). The next run compares with that row: one switch, one queueing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.stock_priority import is_peak
from sync_pipeline.lib.domain.stock_targets import sku_of_key
from sync_pipeline.lib.flows.stock.listings import recipes_for
from sync_pipeline.lib.ledger import Ledger, stock_orders, stock_peak, stock_snapshots
from sync_pipeline.lib.ledger.stock_peak import PeakSwitch

# The order-rate window when no peak mode is configured (only a switch off can then be recorded).
DEFAULT_WINDOW_MINUTES = 10


@dataclass(frozen=True)
class PeakCheck:
    peak: bool
    orders_in_window: int
    switch: PeakSwitch | None  # recorded by this check, if the mode changed


def follow_peak_mode(ledger: Ledger, rules: BusinessRules, now: datetime, actor: str) -> PeakCheck:
    """Judge peak mode at `now` and record a switch if it differs from the newest one (none
    recorded: off, as the buffers are without peak mode)."""
    config = rules.stock_buffers.peak
    window = config.window_minutes if config else DEFAULT_WINDOW_MINUTES
    with ledger.transaction() as con:
        recent = stock_orders.orders_since(con, now - timedelta(minutes=window))
        peak = is_peak(recent, config)
        last = stock_peak.latest(con)
        if peak == (last.peak if last else False):
            return PeakCheck(peak, recent, None)
        # Switching on with no extra buffer moves no target; switching off always may (the extra
        # the positions were pushed with may be one the configuration no longer has).
        moved = (
            stock_peak.positions_moved_by(con, peak) if (config and config.extra_buffer) or not peak else []
        )
        skus = {sku_of_key(key) for key, _ in moved}  # positions are keyed by listing, not SKU
        codes = sorted({code for recipe in recipes_for(skus, rules).values() for code, _ in recipe})
        reconcile = len(codes) > rules.stock.peak_switch_max_items
        if codes and not reconcile:
            # Stamped when queued (as `hints.for_orders`): a read begun before keeps them queued.
            stock_snapshots.hint(con, dict.fromkeys(codes, 1), datetime.now(UTC))
        stock_peak.record(
            con, now, peak, recent, window, config.orders_per_minute if config else None, len(moved),
            0 if reconcile else len(codes), reconcile, actor,
        )  # fmt: skip
        return PeakCheck(peak, recent, stock_peak.latest(con))


def peak_metadata(check: PeakCheck) -> dict[str, object]:
    """For the run's materialisation: the stock sensor wakes for `peak_switch_items_queued`, the
    reconcile sensor launches one reconcile for `peak_switch_reconcile` (the switch's id, else 0)."""
    switch = check.switch
    return {
        "peak_mode": check.peak,
        "orders_in_peak_window": check.orders_in_window,
        "peak_switch": switch.switch_id if switch else 0,
        "peak_switch_items_queued": switch.items_queued if switch else 0,
        "peak_switch_reconcile": switch.switch_id if switch and switch.reconcile else 0,
    }
