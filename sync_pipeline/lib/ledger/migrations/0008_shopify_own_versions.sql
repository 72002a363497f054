-- The version (`updatedAt`) an order reached through our own write to Shopify (today a
-- fulfillmentCreate), kept only when the version right before that write was one the ledger already
-- held in full. A fulfilment bumps the order's updatedAt; the orders ingest lists changed orders by
-- version only and does not read in full an order whose only change since its snapshot was ours
-- (see sync_pipeline/lib/flows/orders/changes.py).
CREATE TABLE shopify_own_versions (
    shopify_order_id VARCHAR PRIMARY KEY,
    updated_at       TIMESTAMP NOT NULL,   -- the order's updatedAt right after our write (UTC)
    recorded_at      TIMESTAMP NOT NULL
);
