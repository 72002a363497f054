-- A `pooled` package (bundle parts a later package completes) has no Shopify fulfilment of its own:
-- its tracking number rides on the fulfilment of the package that carries it (`carried_by`, the
-- next package of its order to go to Shopify). `carried_number`: the number of this package that
-- fulfilment was last sent with (NULL: none yet; one Shopify refused counts, so it is not sent
-- every run). A number arriving later is added by the late-tracking step, with all the
-- fulfilment's other numbers (fulfillmentTrackingInfoUpdate replaces them).
ALTER TABLE despatch_packages ADD COLUMN carried_by VARCHAR;
ALTER TABLE despatch_packages ADD COLUMN carried_number VARCHAR;
