-- The lines Peoplevox reports now for a package whose fulfilment's outcome is unknown (`fulfilling`,
-- its write-ahead `sending`) when they differ from the lines it was sent with: if the in-doubt lookup
-- finds that fulfilment, the package keeps the lines Shopify holds (and warehouse ops have
-- `despatch_changed_after_fulfilment`); if not, it takes these and is planned with them. NULL: none.
ALTER TABLE despatch_packages ADD COLUMN reported_items JSON;
