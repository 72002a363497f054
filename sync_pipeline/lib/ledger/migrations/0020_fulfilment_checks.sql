-- The order version (`updatedAt`, as the orders ingest last recorded it) at which the despatches
-- flow last read an order's fulfilments to see whether someone cancelled one of ours in Shopify
-- (`lib/flows/despatches/cancelled.py`): an order is read again only once it has changed since.
-- A fulfilment cancelled in Shopify is `cancelled` in shopify_fulfilments (state is a free VARCHAR).
CREATE TABLE shopify_fulfilment_checks (
    shopify_order_id VARCHAR PRIMARY KEY,
    checked_version  TIMESTAMP NOT NULL,
    checked_at       TIMESTAMP NOT NULL
);
