-- Once a package settles: {item code: units} it shipped that no Shopify line accounts for (the
-- warehouse sent more than the order has, e.g. after an edit took a unit off). The despatches flow
-- raises `over_despatched` for them and never fulfils them; finance still counts them as despatched,
-- so the reconciliation agrees with what Peoplevox shipped. Null for packages settled before 0009.
ALTER TABLE despatch_packages ADD COLUMN excess_items JSON;
