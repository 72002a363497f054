-- Whether the order's snapshot was recorded from a webhook body rather than read from Shopify.
-- A body counts as settled once its second is over, but it is the order as of its change: a
-- second change in that second whose webhook is lost can hide in it. Release's version check
-- asks for the fields such a change could have moved (address, shipping line, cart attributes)
-- for these orders (sync_pipeline/lib/flows/orders/release/reread.py). NULL (rows written
-- before): not known, checked as if from a body.
ALTER TABLE orders ADD COLUMN snapshot_from_body BOOLEAN;
