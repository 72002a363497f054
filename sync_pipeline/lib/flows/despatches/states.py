"""Where a despatched package is on its way into Shopify, and where its order is.

Package states:
- `pending`: read from Peoplevox, not fulfilled yet (the next fulfil run plans it); also a package
  of an order whose lines Shopify holds changed before the ledger read the change (it waits).
- `awaiting_tracking`: waiting for the carrier's tracking number (up to `tracking_wait_minutes`).
- `moving`: its lines sit at two locations, or wholly at one that is not the warehouse's; those
  elsewhere are being moved to the warehouse's location (`fulfillmentOrderMove`, written ahead), then it is planned again. Left here when the
  move's answer is lost: the order is planned again from Shopify's fulfilment orders once
  `unknown_outcome_settle_seconds` have passed.
- `fulfilling`: sent to Shopify, outcome not recorded yet (the write-ahead row is `sending`).
- `fulfilled`: one Shopify fulfilment holds it.
- `fulfilled_elsewhere`: Shopify already had its units fulfilled (by hand): recorded, no error.
- `pooled`: its units complete no Shopify line yet (part of a bundle); a later package of the
  same order completes the bundle and carries them.
- `blocked`: an open exception stops it (fulfilment order held or closed, order cancelled,
  refused by Shopify); re-checked every run, so fixing the cause lets it go.
- `unknown_order`: its sales order is none we sent (an exception for warehouse ops).
- `cancelled_in_shopify`: its fulfilment was cancelled in Shopify after we made it (`cancelled.py`):
  neither open (never fulfilled again by the flow: a second shipping email) nor settled; CX own it.

Order `despatch_state` (a column of `orders`, apart from the orders flow's `state`):
`partially_despatched` → `despatched` (every ordered unit shipped) → `fulfilled` (all in Shopify).
"""

from sync_pipeline.lib.domain.exception_catalogue import owner_of

PENDING = "pending"
AWAITING_TRACKING = "awaiting_tracking"
MOVING = "moving"
FULFILLING = "fulfilling"
FULFILLED = "fulfilled"
FULFILLED_ELSEWHERE = "fulfilled_elsewhere"
POOLED = "pooled"
BLOCKED = "blocked"
UNKNOWN_ORDER = "unknown_order"
CANCELLED_IN_SHOPIFY = "cancelled_in_shopify"

# A fulfil run looks at these.
OPEN = (PENDING, AWAITING_TRACKING, BLOCKED, MOVING)
# Nothing more to do for these: they count towards what each Shopify line has received.
SETTLED = (FULFILLED, FULFILLED_ELSEWHERE, POOLED)

PARTIALLY_DESPATCHED = "partially_despatched"
DESPATCHED = "despatched"
ORDER_FULFILLED = "fulfilled"

# Exception kinds of this flow and who owns them (owners from lib/domain/exception_catalogue.py).
OWNERS: dict[str, str] = {
    kind: owner_of(kind).value
    for kind in (
        "fulfillment_on_hold",
        "fulfillment_order_closed",
        "fulfilment_refused",
        "despatch_for_unknown_order",
        "shipped_after_cancel",
        "shipped_after_cancel_refunded",
        "over_despatched",
        "tracking_missing",
        "tracking_refused",
        "unknown_carrier",
        "despatch_unreadable",
        "fulfilled_away_from_warehouse",
        "fulfilment_location_unknown",
        "fulfilled_twice",
        "despatch_changed_after_fulfilment",
        "order_edit_not_read",
        "fulfilment_cancelled_in_shopify",
    )
}
# Kinds that stop a package until the cause is fixed; resolved when the package goes through.
BLOCKING_KINDS = (
    "fulfillment_on_hold",
    "fulfillment_order_closed",
    "fulfilment_refused",
    "despatch_for_unknown_order",
    "order_edit_not_read",
)
