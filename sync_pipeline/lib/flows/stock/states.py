"""Exception kinds of the stock flow and who owns them."""

FEED_SUSPECT = "stock_feed_suspect"
LOCATION_MISMATCH = "inventory_location_mismatch"
PUSH_REFUSED = "stock_push_refused"

OWNERS = {
    # Top priority: nothing is pushed to Shopify until a person looks (docs/stock_flow.md runbook).
    FEED_SUSPECT: "warehouse_ops",
    LOCATION_MISMATCH: "warehouse_ops",
    PUSH_REFUSED: "engineering",
}
# The subject of the one open stock_feed_suspect exception: there is one feed.
FEED_SUBJECT = "peoplevox:item-inventory-summary"
