"""Line-level audit of what Shopify was told against what the warehouse shipped. Pure: no I/O.

For one order: replay every despatched package through the same allocation the flow uses
(ignoring Shopify), which gives the most line units the shipped item codes can make; then compare
with what our fulfilments hold per line. Any line fulfilled beyond that, or beyond what was
ordered, is a finding for the `fulfilled_quantities_match_despatched` check.

"Ordered" is Shopify's `quantity` of the line (refunded and removed units still counted), not its
`currentQuantity`: a refund of a unit already fulfilled (a returned parcel) lowers the current
quantity while the unit stays fulfilled, so every return read as an over-fulfilment (until
2026-12-01). Shopify's fulfilment-order totals would be tighter (they leave out units an edit
removed or a refund cancelled before they shipped) but the ledger does not keep them, and the check
would need a Shopify read per order; the line's `quantity` comes with every order read. What it lets
through, a unit fulfilled after an edit removed it, Shopify refuses to fulfil anyway. A copy written
before the ledger kept `quantity` falls back to the current quantity.
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
    # As ordered, so a line whose every unit came back and was refunded is still audited.
    lines = [
        line.model_copy(update={"quantity": max(line.quantity, line.ordered_quantity or 0)})
        for line in order.lines
    ]
    needs = line_needs(lines, rules.bundles, rules.sku_overrides.overrides)
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
