-- A returned item that no line of its order is made of (after SKU overrides and bundles: booked on
-- the wrong order, or an item the warehouse added) was counted nowhere. It is now a row of
-- pvx_return_units without a line, naming its item code, so the reconciliation counts it
-- (`units_returned_unmatched`) and flags the order. Rows written before this migration are unchanged;
-- a finance backfill of a month counts its orders' returns again.
ALTER TABLE pvx_return_units ALTER COLUMN line_key DROP NOT NULL;
ALTER TABLE pvx_return_units ADD COLUMN item_code VARCHAR;
