-- A return may hold one item graded two ways (three tees in a parcel: two back on the shelf, one
-- torn): Peoplevox's Return summary has a row per item and grading under the one return code. Keyed
-- by (return code, item code) the second row was dropped; the key now takes the condition too (''
-- when the report gives none). DuckDB cannot change a primary key in place, so the table is rebuilt.
CREATE TABLE pvx_returns_by_condition (
    return_code         VARCHAR NOT NULL,
    item_code           VARCHAR NOT NULL,
    sales_order_number  VARCHAR NOT NULL,
    shopify_order_id    VARCHAR,                  -- null while the sales order is none of ours
    quantity            INTEGER NOT NULL,         -- the report's rows of one key, summed
    reason              VARCHAR,
    condition           VARCHAR NOT NULL DEFAULT '',
    reusable            BOOLEAN NOT NULL,         -- back on the shelf (available to sell) or not
    returned_at         TIMESTAMP,
    site                VARCHAR,
    first_seen_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (return_code, item_code, condition)
);
INSERT INTO pvx_returns_by_condition
SELECT return_code, item_code, sales_order_number, shopify_order_id, quantity, reason, coalesce(condition, ''),
       reusable, returned_at, site, first_seen_at
FROM pvx_returns;
DROP TABLE pvx_returns;
ALTER TABLE pvx_returns_by_condition RENAME TO pvx_returns;
