-- Money to three decimals. Shopify states the Kuwaiti dinar and the other ISO 4217 three-decimal
-- currencies (BHD, IQD, JOD, KWD, LYD, OMR, TND) to the fils; DECIMAL(18, 2) rounded every such figure
-- to two, and the tie-out compared rounded with rounded. The finance money columns widen in place
-- (DuckDB changes a column's type with its constraints kept); stored amounts keep their value
-- (12.50 reads 12.500). Two- and no-decimal currencies are shown with their own decimals in the
-- exports (lib/domain/currency.py). Orders read before this migration in a three-decimal currency
-- were rounded when stored: a finance backfill of their month reads them again.
ALTER TABLE finance_orders ALTER COLUMN subtotal TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN discounts TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN shipping TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN tax TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN total_price TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN current_total_price TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN current_tax TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN received TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN refunded TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN refunded_shipping TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN net_payment TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN outstanding TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN capturable TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN p_subtotal TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN p_discounts TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN p_shipping TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN p_tax TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN p_total_price TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN p_current_total_price TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN p_current_tax TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN p_received TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN p_refunded TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN p_refunded_shipping TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN p_net_payment TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN p_outstanding TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN p_capturable TYPE DECIMAL(18, 3);
ALTER TABLE finance_order_lines ALTER COLUMN unit_price TYPE DECIMAL(18, 3);
ALTER TABLE finance_order_lines ALTER COLUMN p_unit_price TYPE DECIMAL(18, 3);
ALTER TABLE finance_transactions ALTER COLUMN amount TYPE DECIMAL(18, 3);
ALTER TABLE finance_transactions ALTER COLUMN p_amount TYPE DECIMAL(18, 3);
ALTER TABLE finance_refunds ALTER COLUMN total_refunded TYPE DECIMAL(18, 3);
ALTER TABLE finance_refunds ALTER COLUMN p_total_refunded TYPE DECIMAL(18, 3);
ALTER TABLE finance_refund_lines ALTER COLUMN subtotal TYPE DECIMAL(18, 3);
ALTER TABLE finance_refund_lines ALTER COLUMN tax TYPE DECIMAL(18, 3);
ALTER TABLE finance_refund_lines ALTER COLUMN p_subtotal TYPE DECIMAL(18, 3);
ALTER TABLE finance_refund_lines ALTER COLUMN p_tax TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN refund_discrepancy TYPE DECIMAL(18, 3);
ALTER TABLE finance_orders ALTER COLUMN p_refund_discrepancy TYPE DECIMAL(18, 3);
