"""Pushes whose answer never came back (a crash, a lost answer): read the level back, never resend.

Every write is compare-and-set, so nothing is ever applied twice; what is left to learn is whether
it happened, for the record: `applied` when Shopify holds what we sent, `not_applied` when it still
holds what we expected, `superseded` when it holds something else (it changed since; the next push
works from the fresh figure).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sync_pipeline.lib.flows.stock.plan import read_levels
from sync_pipeline.lib.flows.stock.ports import Storefront
from sync_pipeline.lib.ledger import Ledger, stock_levels, stock_pushes
from sync_pipeline.lib.ledger.stock_levels import LevelRow
from sync_pipeline.lib.ledger.stock_pushes import PushRow


def settle_in_doubt(
    storefront: Storefront, ledger: Ledger, now: datetime, rows: list[PushRow]
) -> tuple[Counter[str], list[LevelRow]]:
    """`rows`: the pushes left `sending` (`stock_pushes.in_doubt`). Returns the outcomes and the
    levels read back (also written to the ledger's copy of Shopify)."""
    outcomes: Counter[str] = Counter()
    if not rows:
        return outcomes, []
    fresh = read_levels(storefront, ((r.intent.inventory_item_id, r.intent.location_id) for r in rows))
    seen = {(lv.inventory_item_id, lv.location_id): lv for lv in fresh}
    settled = []
    for row in rows:
        level = seen.get((row.intent.inventory_item_id, row.intent.location_id))
        held = level.available if level else None
        if held == row.intent.to_quantity:
            state = stock_pushes.APPLIED
        elif held == row.intent.from_quantity:
            state = stock_pushes.NOT_APPLIED
        else:
            state = stock_pushes.SUPERSEDED
        settled.append((row.push_id, state, f"read back: Shopify holds {held}"))
        outcomes[state] += 1
    with ledger.transaction() as con:
        stock_pushes.settle_rows(con, settled, now)
        stock_levels.upsert_levels(con, fresh, now)
    return outcomes, fresh
