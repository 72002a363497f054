-- Of a return's line units, how many Peoplevox graded reusable (`Return condition`, finance.yaml
-- `reusable_conditions`): back on the shelf and on sale through the stock flow; the rest are written
-- off. Rows written before this migration say 0 until their order's returns are counted again (a
-- finance backfill of the order's month does it).
ALTER TABLE pvx_return_units ADD COLUMN reusable_units INTEGER DEFAULT 0;
