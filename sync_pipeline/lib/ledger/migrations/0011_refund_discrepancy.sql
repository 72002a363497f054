-- Shopify's refundDiscrepancySet: over an order's refunds, what Shopify suggested paying back for
-- the goods and shipping refunded less what was paid back (negative in the customer's favour: a
-- goodwill refund). The reconciliation counts money the merchant chose to give back as paid, not
-- as owed (docs/finance_flow.md, "Paid"). Orders read before this migration say 0 until read again
-- (a finance backfill of their month re-reads them).
ALTER TABLE finance_orders ADD COLUMN refund_discrepancy DECIMAL(18, 2) NOT NULL DEFAULT 0;
ALTER TABLE finance_orders ADD COLUMN p_refund_discrepancy DECIMAL(18, 2) NOT NULL DEFAULT 0;
