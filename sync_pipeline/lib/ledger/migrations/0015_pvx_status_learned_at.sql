-- When the ledger learned that the order's units stopped (or started) awaiting allocation in
-- Peoplevox: its status crossed from `New` (or none, or one we do not know) to `Allocated` or later
-- (`Cancelled` included), or back. Kept on the order so a stock push reads a column per open order
-- instead of every order's events (`stock_orders.open_lines`): a figure read before this time may
-- still count the order's units as available. Stamped by the writers of `pvx_status` when the
-- allocation moves (`orders.mark_allocation_learned`), not on every status: Allocated → Despatched
-- leaves the figure as it was, and moving the time on made the push hold the units back again.
-- Backfilled here from the events, erring late (late holds units back until the next read; early
-- could publish them twice): the latest `pvx_status` event whose reason ("Old → New") crosses the
-- boundary or cannot be read, or any later event of a writer that records statuses without a
-- `pvx_status` event (an injection, a confirmed or pushed change).
-- This backfill was changed after 0015 first shipped (session 9, 2026-12-01 00:47 UTC). Ledgers
-- migrated before 2026-12-01 keep the first one: the latest `pvx_status` event of any kind (NULL
-- with none). That counts every status move (Allocated → Despatched too), so it is mostly later
-- than this one: it errs late, the safe side (units held back until the next read of their item);
-- NULL holds them back too. No new migration re-runs it: a backfilled time only decides anything
-- for a figure read before the migration ran, every figure read since is newer than any
-- backfilled time whichever backfill made it, and the hourly full reconcile re-reads every figure.
ALTER TABLE orders ADD COLUMN pvx_status_learned_at TIMESTAMP;
UPDATE orders SET pvx_status_learned_at = e.learned_at
FROM (
    SELECT shopify_order_id, max(occurred_at) AS learned_at
    FROM (
        SELECT shopify_order_id, occurred_at, kind,
               lower(trim(split_part(reason, ' → ', 1))) AS before_status,
               lower(trim(split_part(reason, ' → ', 2))) AS after_status,
               coalesce(position(' → ' IN reason), 0) > 0 AS readable
        FROM order_events
        WHERE kind IN ('pvx_status', 'injected', 'change_confirmed') OR kind LIKE 'change\_%' ESCAPE '\'
    ) ev
    WHERE kind <> 'pvx_status' OR NOT readable
       OR (before_status IN ('allocated', 'picking', 'packed', 'despatched', 'cancelled'))
          <> (after_status IN ('allocated', 'picking', 'packed', 'despatched', 'cancelled'))
    GROUP BY shopify_order_id
) e
WHERE orders.shopify_order_id = e.shopify_order_id;
