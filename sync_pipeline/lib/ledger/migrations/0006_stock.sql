-- Stock from Peoplevox to Shopify (docs/stock_flow.md). The two stock tables of 0001 were
-- placeholders with no code behind them and never held a row, so they are replaced.
DROP TABLE stock_snapshots;
DROP TABLE stock_pushes;

-- Buffers by product tag need the tags; untracked variants (gift cards) are never pushed.
ALTER TABLE shopify_variants ADD COLUMN product_tags JSON;
ALTER TABLE shopify_variants ADD COLUMN tracked BOOLEAN DEFAULT true;

-- One row per read of Peoplevox's Item inventory summary: every item (`full`, the hourly
-- reconcile) or the items callbacks named (`items`). The verdict is the circuit breaker's.
CREATE SEQUENCE stock_snapshots_seq START 1;
CREATE TABLE stock_snapshots (
    snapshot_id         BIGINT PRIMARY KEY DEFAULT nextval('stock_snapshots_seq'),
    kind                VARCHAR NOT NULL,         -- full | items
    taken_at            TIMESTAMP NOT NULL,
    partition_key       VARCHAR,                  -- the hour of a full snapshot (asset partition)
    items_asked         INTEGER,                  -- kind items: how many item codes were asked for
    rows_read           INTEGER NOT NULL,
    total_available     BIGINT NOT NULL,
    verdict             VARCHAR NOT NULL,         -- accepted | suspect | accepted_by_person | superseded
    verdict_reason      VARCHAR,
    compared            INTEGER,                  -- item-site figures that had stock before
    zero_drops          INTEGER,                  -- of those, how many this read drops to zero
    total_before        BIGINT,                   -- accepted total of the same items and sites
    decided_by          VARCHAR,                  -- who accepted a suspect snapshot
    decided_at          TIMESTAMP,
    pushed_at           TIMESTAMP,                -- when a push run took its figures
    run_id              VARCHAR
);

-- What each snapshot read, per item and site (history for drift analysis; pruned by retention).
CREATE TABLE stock_snapshot_rows (
    snapshot_id         BIGINT NOT NULL,
    item_code           VARCHAR NOT NULL,
    site                VARCHAR NOT NULL,
    available           INTEGER NOT NULL,
    on_hand             INTEGER,
    allocated           INTEGER
);

-- Peoplevox availability as last accepted: the figures every target is computed from.
CREATE TABLE stock_available (
    item_code           VARCHAR NOT NULL,
    site                VARCHAR NOT NULL,
    available           INTEGER NOT NULL,
    snapshot_id         BIGINT NOT NULL,
    read_at             TIMESTAMP NOT NULL,
    PRIMARY KEY (item_code, site)
);

-- Items named by AvailabilityChanges callbacks and not yet re-read (fast sellers go first).
CREATE TABLE stock_dirty_items (
    item_code           VARCHAR PRIMARY KEY,
    first_hinted_at     TIMESTAMP NOT NULL,
    last_hinted_at      TIMESTAMP NOT NULL,
    hints               INTEGER NOT NULL
);

-- Shopify's inventory levels as the stock flow last read or wrote them.
CREATE TABLE shopify_stock_levels (
    inventory_item_id   VARCHAR NOT NULL,
    location_id         VARCHAR NOT NULL,
    available           INTEGER,
    committed           INTEGER,
    shopify_updated_at  TIMESTAMP,
    read_at             TIMESTAMP NOT NULL,
    PRIMARY KEY (inventory_item_id, location_id)
);

-- One row per SKU and location we publish: the latest target and what it was made of.
CREATE TABLE stock_positions (
    sku                 VARCHAR NOT NULL,
    location_id         VARCHAR NOT NULL,
    inventory_item_id   VARCHAR NOT NULL,
    site                VARCHAR NOT NULL,
    target              INTEGER NOT NULL,
    peoplevox_available INTEGER NOT NULL,
    reserved            INTEGER NOT NULL,         -- units held for orders Peoplevox has not allocated
    buffer              INTEGER NOT NULL,
    buffer_source       VARCHAR NOT NULL,
    shopify_available   INTEGER,                  -- as last read, or written by us
    computed_at         TIMESTAMP NOT NULL,
    last_pushed_at      TIMESTAMP,
    last_outcome        VARCHAR,
    PRIMARY KEY (sku, location_id)
);

-- Write-ahead record of every quantity we set in Shopify: `sending` before inventorySetQuantities,
-- then `applied`, `stale` (changeFromQuantity no longer matched: re-read, never overwritten blind),
-- or `refused`. A row left `sending` is settled by reading the level back.
CREATE SEQUENCE stock_pushes_seq START 1;
CREATE TABLE stock_pushes (
    push_id             BIGINT PRIMARY KEY DEFAULT nextval('stock_pushes_seq'),
    idempotency_key     VARCHAR NOT NULL,         -- the @idempotent key of the request that carried it
    sku                 VARCHAR NOT NULL,
    inventory_item_id   VARCHAR NOT NULL,
    location_id         VARCHAR NOT NULL,
    from_quantity       INTEGER,                  -- changeFromQuantity
    to_quantity         INTEGER NOT NULL,
    state               VARCHAR NOT NULL,
    sent_at             TIMESTAMP NOT NULL,
    settled_at          TIMESTAMP,
    detail              VARCHAR,
    run_id              VARCHAR
);
