-- The tracking number Shopify last refused in a fulfillmentTrackingInfoUpdate of this package's
-- fulfilment (NULL: none refused). The fulfilment itself stays `created`: Shopify holds it, and
-- a refused update changes nothing there. The late-tracking step skips the row while the
-- package's number is the refused one, so one bad number is not sent again every run.
ALTER TABLE shopify_fulfilments ADD COLUMN tracking_refused_number VARCHAR;
