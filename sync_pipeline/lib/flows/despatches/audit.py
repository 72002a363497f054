"""Line-level audit of what Shopify was told against what the warehouse shipped. Pure: no I/O.

For one order: replay every despatched package through the same allocation the flow uses
(ignoring Shopify), which gives the most line units the shipped item codes can make; then compare
with what our fulfilments hold per line. Any line fulfilled beyond that, or beyond what was
ordered, is a finding for the `fulfilled_quantities_match_despatched` check.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.fulfilment import allocate, line_needs
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.ledger.despatches import PackageRow
from sync_pipeline.lib.ledger.fulfilments import FulfilmentRow


@dataclass(frozen=True)
class LineFinding:
    order_id: str
    order_name: str
    line: str
    ordered: int
    despatched_allows: int
    fulfilled: int


def audit_order(
    order: ShopOrder,
    packages: Sequence[PackageRow],
    fulfilments: Sequence[FulfilmentRow],
    rules: BusinessRules,
) -> list[LineFinding]:
    needs = line_needs(order.lines, rules.bundles, rules.sku_overrides.overrides)
    allows: Counter[str] = Counter()
    pool: Counter[str] = Counter()
    for p in packages:
        result = allocate(needs, allows, pool, p.items)
        allows.update(result.lines)
        pool = result.pool
    fulfilled: Counter[str] = Counter()
    for f in fulfilments:
        if f.state == "created":
            fulfilled.update(f.intent.line_quantities)
    names = {line.id: line.name or line.sku or line.id for line in order.lines}
    ordered = {n.line_id: n.ordered for n in needs}
    return [
        LineFinding(order.id, order.name, names.get(line, line), ordered.get(line, 0), allows[line], units)
        for line, units in fulfilled.items()
        if units > allows[line] or units > ordered.get(line, 0)
    ]
