"""An order's `despatch_state` from its packages as the ledger holds them. Pure: no I/O."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.fulfilment import consumed, line_needs
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.ledger.despatches import PackageRow


def despatch_state(order: ShopOrder, packages: Sequence[PackageRow], rules: BusinessRules) -> str:
    """`partially_despatched` until every ordered unit shipped, then `despatched`, then `fulfilled`
    once every package is settled and every line accounted for in Shopify."""
    needs = line_needs(order.lines, rules.bundles, rules.sku_overrides.overrides)
    shipped: Counter[str] = Counter()
    accounted: Counter[str] = Counter()
    settled = True
    for p in packages:
        shipped.update(p.items)
        if p.state in states.SETTLED:
            accounted.update(p.line_quantities or {})
        else:
            settled = False
    wanted = consumed(needs, {n.line_id: n.ordered for n in needs})
    if any(shipped.get(code, 0) < units for code, units in wanted.items()):
        return states.PARTIALLY_DESPATCHED
    complete = all(accounted.get(n.line_id, 0) >= n.ordered for n in needs)
    return states.ORDER_FULFILLED if settled and complete else states.DESPATCHED
