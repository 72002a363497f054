-- When the ledger learned the order's Peoplevox status: its latest `pvx_status` event (NULL: none,
-- as for an order whose status came with its injection). Kept on the order so a stock push reads a
-- column per open order instead of every order's events (`stock_orders.open_lines`): a figure read
-- before this time may still count the order's units as available. Set with each `pvx_status` event
-- (`events.append`); backfilled here from the events.
ALTER TABLE orders ADD COLUMN pvx_status_learned_at TIMESTAMP;
UPDATE orders SET pvx_status_learned_at = e.learned_at
FROM (
    SELECT shopify_order_id, max(occurred_at) AS learned_at FROM order_events
    WHERE kind = 'pvx_status' GROUP BY shopify_order_id
) e
WHERE orders.shopify_order_id = e.shopify_order_id;
