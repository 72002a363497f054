-- Finance reconciliation (docs/finance.md). Money is DECIMAL(18, 2) as Shopify states it, never
-- recomputed; every amount is kept in the shop's currency and (columns `p_…`) in the currency the
-- customer paid in (presentment). Times are UTC.

-- One row per Shopify order: its money as Shopify states it, read by `shopify/order_finance`.
CREATE TABLE finance_orders (
    order_key           BIGINT PRIMARY KEY,       -- Shopify's numeric order id (the gid's tail)
    shopify_order_id    VARCHAR NOT NULL,
    order_name          VARCHAR NOT NULL,
    order_date          DATE NOT NULL,            -- createdAt's UTC day: the partition key
    created_at          TIMESTAMP NOT NULL,
    cancelled_at        TIMESTAMP,
    paid_at             TIMESTAMP,                -- first successful sale, capture or authorisation
    financial_status    VARCHAR,                  -- displayFinancialStatus
    return_status       VARCHAR,                  -- returnStatus
    customer_name       VARCHAR,
    note                VARCHAR,
    shop_currency       VARCHAR NOT NULL,
    currency            VARCHAR NOT NULL,         -- presentment currency
    taxes_included      BOOLEAN NOT NULL,
    subtotal            DECIMAL(18, 2) NOT NULL,  -- subtotalPriceSet
    discounts           DECIMAL(18, 2) NOT NULL,  -- totalDiscountsSet
    shipping            DECIMAL(18, 2) NOT NULL,  -- totalShippingPriceSet
    tax                 DECIMAL(18, 2) NOT NULL,  -- totalTaxSet
    total_price         DECIMAL(18, 2) NOT NULL,  -- totalPriceSet (as placed)
    current_total_price DECIMAL(18, 2) NOT NULL,  -- currentTotalPriceSet (after edits and refunds)
    current_tax         DECIMAL(18, 2) NOT NULL,  -- currentTotalTaxSet
    received            DECIMAL(18, 2) NOT NULL,  -- totalReceivedSet (sales and captures)
    refunded            DECIMAL(18, 2) NOT NULL,  -- totalRefundedSet
    refunded_shipping   DECIMAL(18, 2) NOT NULL,  -- totalRefundedShippingSet
    net_payment         DECIMAL(18, 2) NOT NULL,  -- netPaymentSet
    outstanding         DECIMAL(18, 2) NOT NULL,  -- totalOutstandingSet
    capturable          DECIMAL(18, 2) NOT NULL,  -- totalCapturableSet (authorised, not captured)
    p_subtotal          DECIMAL(18, 2) NOT NULL,
    p_discounts         DECIMAL(18, 2) NOT NULL,
    p_shipping          DECIMAL(18, 2) NOT NULL,
    p_tax               DECIMAL(18, 2) NOT NULL,
    p_total_price       DECIMAL(18, 2) NOT NULL,
    p_current_total_price DECIMAL(18, 2) NOT NULL,
    p_current_tax       DECIMAL(18, 2) NOT NULL,
    p_received          DECIMAL(18, 2) NOT NULL,
    p_refunded          DECIMAL(18, 2) NOT NULL,
    p_refunded_shipping DECIMAL(18, 2) NOT NULL,
    p_net_payment       DECIMAL(18, 2) NOT NULL,
    p_outstanding       DECIMAL(18, 2) NOT NULL,
    p_capturable        DECIMAL(18, 2) NOT NULL,
    shopify_updated_at  TIMESTAMP NOT NULL,
    read_at             TIMESTAMP NOT NULL
);

-- The tables below carry the order's key and date, so a day's reconciliation reads only that day
-- (DuckDB skips row groups by date) and joins on integers. They have no indexes: an order read
-- again has all its rows deleted and written afresh, and indexes would slow both.

-- Its line items: original and current quantity, unit price in both currencies.
CREATE TABLE finance_order_lines (
    order_key           BIGINT NOT NULL,
    order_date          DATE NOT NULL,
    line_key            BIGINT NOT NULL,          -- Shopify's numeric line item id
    sku                 VARCHAR,
    quantity            INTEGER NOT NULL,         -- as ordered, removed units included
    current_quantity    INTEGER NOT NULL,         -- without removed and refunded units
    requires_shipping   BOOLEAN NOT NULL,
    unit_price          DECIMAL(18, 2) NOT NULL,  -- originalUnitPriceSet
    p_unit_price        DECIMAL(18, 2) NOT NULL
);

-- Payment transactions (authorisation, capture, sale, refund, void) with their status.
CREATE TABLE finance_transactions (
    order_key           BIGINT NOT NULL,
    order_date          DATE NOT NULL,
    transaction_id      VARCHAR NOT NULL,
    kind                VARCHAR NOT NULL,
    status              VARCHAR NOT NULL,
    gateway             VARCHAR,
    amount              DECIMAL(18, 2) NOT NULL,
    p_amount            DECIMAL(18, 2) NOT NULL,
    parent_id           VARCHAR,
    processed_at        TIMESTAMP,
    authorization_expires_at TIMESTAMP
);

CREATE TABLE finance_refunds (
    order_key           BIGINT NOT NULL,
    order_date          DATE NOT NULL,
    refund_id           VARCHAR NOT NULL,
    created_at          TIMESTAMP,
    note                VARCHAR,
    total_refunded      DECIMAL(18, 2) NOT NULL,
    p_total_refunded    DECIMAL(18, 2) NOT NULL,
    return_id           VARCHAR                   -- the Shopify return it settles, if any
);

-- Refund line items: which units were refunded and whether they come back (restock type).
CREATE TABLE finance_refund_lines (
    order_key           BIGINT NOT NULL,
    order_date          DATE NOT NULL,
    refund_id           VARCHAR NOT NULL,
    line_key            BIGINT NOT NULL,
    requires_shipping   BOOLEAN NOT NULL,         -- the refunded line's
    restock_type        VARCHAR NOT NULL,         -- RETURN | CANCEL | NO_RESTOCK | LEGACY_RESTOCK
    quantity            INTEGER NOT NULL,
    subtotal            DECIMAL(18, 2) NOT NULL,
    tax                 DECIMAL(18, 2) NOT NULL,
    p_subtotal          DECIMAL(18, 2) NOT NULL,
    p_tax               DECIMAL(18, 2) NOT NULL
);

-- Shopify returns and their status.
CREATE TABLE finance_returns (
    order_key           BIGINT NOT NULL,
    order_date          DATE NOT NULL,
    return_id           VARCHAR NOT NULL,
    name                VARCHAR,
    status              VARCHAR NOT NULL,         -- REQUESTED | OPEN | CLOSED | CANCELED | DECLINED
    total_quantity      INTEGER NOT NULL,
    created_at          TIMESTAMP,
    closed_at           TIMESTAMP
);

-- Returns the warehouse processed, one row per return and item code (Peoplevox `Return summary`).
CREATE TABLE pvx_returns (
    return_code         VARCHAR NOT NULL,
    item_code           VARCHAR NOT NULL,
    sales_order_number  VARCHAR NOT NULL,
    shopify_order_id    VARCHAR,                  -- null while the sales order is none of ours
    quantity            INTEGER NOT NULL,
    reason              VARCHAR,
    condition           VARCHAR,
    reusable            BOOLEAN NOT NULL,         -- back on the shelf (available to sell) or not
    returned_at         TIMESTAMP,
    site                VARCHAR,
    first_seen_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (return_code, item_code)
);

-- Those returns as Shopify line units (bundles and SKU overrides reversed, as for packages).
CREATE TABLE pvx_return_units (
    order_key           BIGINT NOT NULL,
    order_date          DATE NOT NULL,
    return_code         VARCHAR NOT NULL,
    line_key            BIGINT NOT NULL,
    units               INTEGER NOT NULL
);

-- Despatched packages as flat unit rows, derived from despatch_packages by the finance flow so the
-- reconciliation never parses JSON: a settled package as the Shopify line units it accounts for,
-- one not yet settled as its item codes (matched to lines by SKU).
CREATE TABLE finance_package_units (
    order_key           BIGINT NOT NULL,
    order_date          DATE NOT NULL,            -- the order's (orders.order_date)
    package_number      VARCHAR NOT NULL,
    line_key            BIGINT,                   -- set when the package is settled
    item_code           VARCHAR,                  -- set while it is not
    units               INTEGER NOT NULL,
    despatched_at       TIMESTAMP NOT NULL
);
