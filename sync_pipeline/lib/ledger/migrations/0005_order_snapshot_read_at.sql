-- When the order's snapshot was read from Shopify (UTC, our clock). Shopify's updatedAt has
-- one-second resolution, so a read within the second of an update may miss a second change in
-- that same second: such a snapshot is "unsettled" and is read again before anyone trusts its
-- version (see sync_pipeline/lib/flows/orders/observed.py).
ALTER TABLE orders ADD COLUMN snapshot_read_at TIMESTAMP;
