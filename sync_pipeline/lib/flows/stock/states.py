"""Exception kinds of the stock flow and who owns them (owners from lib/domain/exception_catalogue.py)."""

from sync_pipeline.lib.domain.exception_catalogue import owner_of

# Top priority (weight 5): nothing is pushed to Shopify until it clears (docs/runbook.md).
FEED_SUSPECT = "stock_feed_suspect"
LOCATION_MISMATCH = "inventory_location_mismatch"
PUSH_REFUSED = "stock_push_refused"
UNTRACKED = "stock_untracked_variant"

OWNERS: dict[str, str] = {
    kind: owner_of(kind).value for kind in (FEED_SUSPECT, LOCATION_MISMATCH, PUSH_REFUSED, UNTRACKED)
}
# The subject of the one open stock_feed_suspect exception: there is one feed.
FEED_SUBJECT = "peoplevox:item-inventory-summary"
