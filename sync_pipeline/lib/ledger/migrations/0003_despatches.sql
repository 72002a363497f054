-- Despatches back to Shopify (docs/despatches_flow.md). The three tables of 0001 were placeholders
-- with no code behind them and never held a row, so they are replaced rather than altered.
DROP TABLE shopify_fulfilments;
DROP TABLE despatch_packages;
DROP TABLE despatches;

-- One row per Peoplevox package (`DES00042` for a one-package despatch, `DES00042-1`, `DES00042-2`
-- for a multi-package one), as read from the Despatch summary report. Packages are immutable in
-- Peoplevox except for a tracking number that may arrive after the despatch.
CREATE TABLE despatch_packages (
    package_number      VARCHAR PRIMARY KEY,
    despatch_number     VARCHAR NOT NULL,
    sales_order_number  VARCHAR NOT NULL,
    shopify_order_id    VARCHAR,                  -- null while the sales order is none of ours
    despatched_at       TIMESTAMP NOT NULL,       -- Peoplevox's despatch date (minute precision)
    despatch_date       DATE NOT NULL,            -- its UTC day: the partition key
    carrier             VARCHAR,
    service             VARCHAR,
    site                VARCHAR,
    tracking_number     VARCHAR,
    tracking_seen_at    TIMESTAMP,                -- when we first read a tracking number for it
    items               JSON NOT NULL,            -- {item code: units} in this package
    state               VARCHAR NOT NULL,         -- see lib/flows/despatches/states.py
    state_reason        VARCHAR,
    line_quantities     JSON,                     -- once settled: {Shopify line item id: units it accounts for}
    first_seen_at       TIMESTAMP NOT NULL,       -- when we first read it: lateness runs from here
    updated_at          TIMESTAMP NOT NULL
);
CREATE INDEX despatch_packages_by_order ON despatch_packages (shopify_order_id);

-- Write-ahead record of every fulfilment we create in Shopify, one per package:
-- `sending` before fulfillmentCreate, then `created` (or `failed`). A row left `sending` is looked
-- up in Shopify before anything is sent again.
CREATE TABLE shopify_fulfilments (
    package_number      VARCHAR PRIMARY KEY,
    shopify_order_id    VARCHAR NOT NULL,
    state               VARCHAR NOT NULL,         -- sending | created | failed
    location_id         VARCHAR,
    request             JSON NOT NULL,            -- {fulfillment order id: {FO line item id: quantity}}
    line_quantities     JSON NOT NULL,            -- {Shopify line item id: quantity}
    tracking_number     VARCHAR,
    tracking_company    VARCHAR,
    tracking_url        VARCHAR,
    notify_customer     BOOLEAN NOT NULL,
    fulfillment_id      VARCHAR,
    fulfillment_name    VARCHAR,
    attempts            INTEGER NOT NULL DEFAULT 0,
    first_attempt_at    TIMESTAMP NOT NULL,
    last_attempt_at     TIMESTAMP NOT NULL,
    created_at          TIMESTAMP,                -- when Shopify's fulfilment was confirmed
    tracking_posted_at  TIMESTAMP,                -- when tracking reached Shopify (with the create or later)
    last_error          VARCHAR,
    run_id              VARCHAR
);
CREATE INDEX shopify_fulfilments_by_order ON shopify_fulfilments (shopify_order_id);

-- Where each order is on the way back: partially_despatched → despatched → fulfilled. Kept apart
-- from `orders.state`, which is the orders flow's (Shopify → Peoplevox) and must not move.
ALTER TABLE orders ADD COLUMN despatch_state VARCHAR;
