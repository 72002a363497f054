"""Which orders of the cheap change listing the ingest must read in full.

The poll lists the orders changed since its cursor with their version only (about a point each;
a full read costs tens). An order is read in full unless the ledger already holds what Shopify
has, which it knows in two cases:

- the ledger's snapshot *is* the listed version, read after that version's second was over
  (`settled`: no second change can share it);
- the listed version is the one **our own fulfilment** produced, and the version right before
  that write was the ledger's settled snapshot (`lib/ledger/own_versions.py` keeps it only then).
  A fulfilment changes nothing the orders flow reads, yet bumps `updatedAt`; without this every
  order the despatches flow fulfils would be read in full again (32 of 54 Shopify points a package).

In both cases the fields the listing carries for free (cancellation, financial status, email,
phone, tags, line units) must also agree with the snapshot, so a cancel, refund or line edit that
shares a second with our write, or lands between our last look and our write, is still read.
What that cannot see: an address, shipping-method or attribute edit in that same window (seconds)
whose `orders/updated` webhook is lost too (the webhook of an edit in another second names its
own version, which the ledger does not hold, so `ingest_notified` reads it).
"""

from __future__ import annotations

from datetime import datetime

from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.orders.observed import settled
from sync_pipeline.lib.flows.orders.ports import ListedOrder
from sync_pipeline.lib.flows.orders.records import aware
from sync_pipeline.lib.ledger.orders import OrderRow


def agrees(listed: ListedOrder, snapshot: ShopOrder) -> bool:
    """The listing's free fields say the same as the snapshot."""
    return (
        aware(listed.cancelled_at) == aware(snapshot.cancelled_at)
        and listed.financial_status == snapshot.financial_status
        and listed.email == snapshot.email
        and listed.phone == snapshot.phone
        and listed.tags == frozenset(snapshot.tags)
        and listed.line_units == sum(line.quantity for line in snapshot.lines)
    )


def held_version(row: OrderRow | None) -> datetime | None:
    """The version the ledger holds in full and may trust, or None."""
    if row is None or not row.snapshot or row.shopify_updated_at is None:
        return None
    if not settled(row.shopify_updated_at, row.snapshot_read_at):
        return None
    return aware(row.shopify_updated_at)


def only_ours(listed: ListedOrder, row: OrderRow | None, own_version: datetime | None) -> bool:
    """The listed version is newer than the snapshot only through our own write."""
    held = held_version(row)
    return (
        held is not None
        and own_version is not None
        and aware(own_version) == aware(listed.updated_at)
        and held < aware(listed.updated_at)  # type: ignore[operator]
    )


def read_in_full(listed: ListedOrder, row: OrderRow | None, own_version: datetime | None) -> bool:
    """True unless the ledger already holds what Shopify has for this listed order."""
    held = held_version(row)
    if held is None:
        return True
    if held != aware(listed.updated_at) and not only_ours(listed, row, own_version):
        return True
    assert row is not None and row.snapshot is not None
    return not agrees(listed, ShopOrder.model_validate(row.snapshot))
