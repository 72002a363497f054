"""Has an open exception's condition cleared? Re-checked against the ledger on every ops run.

Each flow closes its own exceptions when its run sees the problem gone; this is the second look,
across flows, for what a flow's run cannot see (an order cancelled while held, a package fulfilled
by hand). Only conditions the ledger proves are closed here, each with the fact that closed it;
kinds a person must close (catalogue: "by a person") are never closed here.
"""

from __future__ import annotations

from sync_pipeline.lib.domain.exception_catalogue import CATALOGUE, Clears
from sync_pipeline.lib.flows.despatches import states as packages
from sync_pipeline.lib.flows.orders import state as orders
from sync_pipeline.lib.ledger.ops import OpenExceptionRow

# An order in one of these states has gone past every reason to hold it before the warehouse.
# Not `in_warehouse`: there the same kinds stand for a change Peoplevox does not have yet (an
# added item with no item type, a new address that is unusable, item rows it refused), and the
# orders flow re-plans the change while the exception is open and closes it when Peoplevox has
# what Shopify wants; it closes a live order's old holds itself when Peoplevox accepts it.
PAST_RELEASE = frozenset(
    {
        orders.CANCELLED_IN_WAREHOUSE,
        orders.CANCELLED_BEFORE_RELEASE,
        orders.NOT_FOR_WAREHOUSE,
    }
)
PACKAGE_BLOCKED_KINDS = frozenset(packages.BLOCKING_KINDS) - {"despatch_for_unknown_order"}


def cleared(row: OpenExceptionRow) -> str | None:
    """Why the exception no longer holds, or None while it still does (or only a person can tell)."""
    entry = CATALOGUE.get(row.kind)
    if entry is None or entry.clears is not Clears.AUTOMATICALLY:
        return None
    if row.kind in orders.PRE_RELEASE_EXCEPTIONS and row.order_state in PAST_RELEASE:
        return f"order is now {row.order_state.replace('_', ' ')}"
    if row.kind in PACKAGE_BLOCKED_KINDS and row.package_state in packages.SETTLED:
        return f"package {row.subject} is {row.package_state.replace('_', ' ')}"
    if row.kind == "despatch_for_unknown_order" and row.package_order_known:
        return f"package {row.subject} now belongs to a known order"
    if row.kind == "tracking_missing" and row.tracking_posted:
        return f"tracking of package {row.subject} is in Shopify"
    return None
