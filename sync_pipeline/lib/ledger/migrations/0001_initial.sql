-- The ledger: the product's memory. Times are UTC, stored as TIMESTAMP without zone.

-- One row per Shopify order, with the state it is in on its way to the warehouse.
CREATE TABLE orders (
    shopify_order_id    VARCHAR PRIMARY KEY,      -- gid://shopify/Order/…
    legacy_id           BIGINT,
    order_name          VARCHAR,                  -- "#1001"; not unique across shops
    order_date          DATE,                     -- Shopify createdAt (UTC) date: the partition key
    state               VARCHAR NOT NULL,         -- see sync_pipeline.lib.domain order states
    financial_status    VARCHAR,
    fulfillment_status  VARCHAR,
    cancelled_at        TIMESTAMP,
    shopify_created_at  TIMESTAMP,
    shopify_updated_at  TIMESTAMP,
    paid_seen_at        TIMESTAMP,                -- when we first saw it paid: starts the hold window
    release_due_at      TIMESTAMP,
    sales_order_number  VARCHAR,
    site                VARCHAR,
    channel             VARCHAR,
    total_price         DECIMAL(18, 2),
    currency            VARCHAR,
    pvx_status          VARCHAR,
    pvx_status_at       TIMESTAMP,
    change_pending      BOOLEAN NOT NULL DEFAULT false,  -- edited/cancelled in Shopify after injection
    snapshot            JSON,                     -- the order as last read from Shopify
    first_seen_at       TIMESTAMP NOT NULL,
    last_seen_at        TIMESTAMP NOT NULL
);

CREATE TABLE order_lines (
    shopify_order_id    VARCHAR NOT NULL,
    line_id             VARCHAR NOT NULL,
    sku                 VARCHAR,
    quantity            INTEGER NOT NULL,         -- current quantity (after edits and refunds)
    requires_shipping   BOOLEAN NOT NULL,
    is_gift_card        BOOLEAN NOT NULL,
    unit_price          DECIMAL(18, 2),
    bundle_group        VARCHAR,
    PRIMARY KEY (shopify_order_id, line_id)
);

-- Append-only audit log: every transition with time, actor (flow/run id) and reason.
CREATE SEQUENCE order_events_seq START 1;
CREATE TABLE order_events (
    event_id            BIGINT PRIMARY KEY DEFAULT nextval('order_events_seq'),
    shopify_order_id    VARCHAR NOT NULL,
    occurred_at         TIMESTAMP NOT NULL,
    kind                VARCHAR NOT NULL,
    actor               VARCHAR NOT NULL,
    reason              VARCHAR,
    detail              JSON
);
CREATE INDEX order_events_by_order ON order_events (shopify_order_id);

-- What we sent to Peoplevox, keyed by the deterministic SalesOrderNumber.
CREATE TABLE pvx_injections (
    sales_order_number  VARCHAR PRIMARY KEY,
    shopify_order_id    VARCHAR NOT NULL,
    state               VARCHAR NOT NULL,         -- sending | accepted | failed
    attempts            INTEGER NOT NULL DEFAULT 0,
    header              JSON,
    items               JSON,
    first_attempt_at    TIMESTAMP,
    last_attempt_at     TIMESTAMP,
    confirmed_at        TIMESTAMP,
    last_error          VARCHAR,
    run_id              VARCHAR
);

CREATE TABLE despatches (
    despatch_number     VARCHAR PRIMARY KEY,
    sales_order_number  VARCHAR NOT NULL,
    despatched_at       TIMESTAMP,
    carrier             VARCHAR,
    service             VARCHAR,
    site                VARCHAR,
    first_seen_at       TIMESTAMP NOT NULL
);

CREATE TABLE despatch_packages (
    despatch_number     VARCHAR NOT NULL,
    package_number      VARCHAR NOT NULL,
    item_code           VARCHAR NOT NULL,
    quantity            INTEGER NOT NULL,
    tracking_number     VARCHAR,
    carrier             VARCHAR,
    PRIMARY KEY (despatch_number, package_number, item_code)
);

CREATE TABLE shopify_fulfilments (
    package_key         VARCHAR PRIMARY KEY,      -- one Shopify fulfilment per Peoplevox package
    shopify_order_id    VARCHAR NOT NULL,
    fulfillment_order_id VARCHAR,
    fulfillment_id      VARCHAR,
    tracking_number     VARCHAR,
    notify_customer     BOOLEAN,
    created_at          TIMESTAMP NOT NULL
);

CREATE TABLE stock_snapshots (
    taken_at            TIMESTAMP NOT NULL,
    item_code           VARCHAR NOT NULL,
    site                VARCHAR NOT NULL,
    available           INTEGER NOT NULL,
    PRIMARY KEY (taken_at, item_code, site)
);

CREATE TABLE stock_pushes (
    idempotency_key     VARCHAR PRIMARY KEY,
    pushed_at           TIMESTAMP NOT NULL,
    sku                 VARCHAR NOT NULL,
    inventory_item_id   VARCHAR,
    location_id         VARCHAR,
    from_quantity       INTEGER,
    to_quantity         INTEGER NOT NULL,
    outcome             VARCHAR NOT NULL,
    detail              VARCHAR
);

-- What is stuck, why, and who owns it. At most one open exception per (order, kind, subject).
CREATE SEQUENCE exceptions_seq START 1;
CREATE TABLE exceptions (
    exception_id        BIGINT PRIMARY KEY DEFAULT nextval('exceptions_seq'),
    shopify_order_id    VARCHAR,
    sales_order_number  VARCHAR,
    subject             VARCHAR NOT NULL DEFAULT '',   -- the SKU, field or item the exception is about
    kind                VARCHAR NOT NULL,
    owner               VARCHAR NOT NULL,              -- warehouse_ops | cx | finance | integration
    message             VARCHAR NOT NULL,
    detail              JSON,
    status              VARCHAR NOT NULL DEFAULT 'open',
    opened_at           TIMESTAMP NOT NULL,
    last_seen_at        TIMESTAMP NOT NULL,
    occurrences         INTEGER NOT NULL DEFAULT 1,
    resolved_at         TIMESTAMP,
    resolution          VARCHAR
);

CREATE TABLE sync_cursors (
    name                VARCHAR PRIMARY KEY,
    value               VARCHAR NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);

-- Peoplevox cannot list its subscriptions: we must remember every id we created.
CREATE TABLE subscriptions (
    system              VARCHAR NOT NULL,         -- shopify | peoplevox
    topic               VARCHAR NOT NULL,
    subscription_id     VARCHAR NOT NULL,
    target              VARCHAR NOT NULL,         -- callback URL with any secret token redacted
    created_at          TIMESTAMP NOT NULL,
    PRIMARY KEY (system, subscription_id)
);

-- The catalogue on both sides, refreshed by the catalogue asset: translation reads item codes
-- from here instead of paging Peoplevox on every release.
CREATE TABLE shopify_variants (
    variant_id          VARCHAR PRIMARY KEY,
    sku                 VARCHAR,
    barcode             VARCHAR,
    inventory_item_id   VARCHAR,
    product_title       VARCHAR,
    requires_components BOOLEAN NOT NULL DEFAULT false,
    seen_at             TIMESTAMP NOT NULL
);

CREATE TABLE pvx_item_types (
    item_code           VARCHAR PRIMARY KEY,
    barcode             VARCHAR,
    name                VARCHAR,
    seen_at             TIMESTAMP NOT NULL
);
