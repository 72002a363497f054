"""Customer tags for orders recorded from their webhook bodies, read before routing needs them.

No webhook body carries the customer's tags (`webhook_order.py`), so an order recorded from one
holds None until they are read. Routing reads them only when a rule matches on customer tags
(`RoutingConfig.reads_customer_tags`); then release reads them for the due orders still without
them (about two points an order, against twenty-odd for a read in full) before it translates.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.orders.changes import held_version
from sync_pipeline.lib.flows.orders.observed import record_orders
from sync_pipeline.lib.flows.orders.ports import OrdersSource
from sync_pipeline.lib.flows.orders.records import aware
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.orders import OrderRow


def fill_customer_tags(
    source: OrdersSource,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    ids: list[str],
    moment: datetime,
    known: Mapping[str, OrderRow] | None = None,
) -> list[str]:
    """Read the customer tags of those of `ids` whose settled snapshot has none and record them;
    returns the ids whose version moved since (the caller reads those in full). `known`: the
    ledger's rows of `ids` as the caller has just read them (else they are read here)."""
    if not rules.routing.reads_customer_tags or not ids:
        return []
    if known is None:
        with ledger.transaction() as con:
            known = ledger_orders.get_many(con, ids)
    untagged = {
        oid: row
        for oid in ids
        if (row := known.get(oid)) is not None
        and row.snapshot
        and row.snapshot.get("customer_tags", ()) is None
        and held_version(row) is not None
    }
    if not untagged:
        return []
    read = source.customer_tags(list(untagged))
    filled: list[ShopOrder] = []
    moved: list[str] = []
    for oid, row in untagged.items():
        if oid not in read:
            continue  # gone from Shopify: the caller's version check sets it aside
        version, tags = read[oid]
        if aware(version) != held_version(row):
            moved.append(oid)
            continue
        filled.append(ShopOrder.model_validate(row.snapshot).model_copy(update={"customer_tags": tags}))
    if filled:
        record_orders(ledger, filled, rules, actor, moment, read_at=moment)
    return moved
