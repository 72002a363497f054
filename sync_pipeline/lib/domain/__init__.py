"""Business rules of the sync, as pure functions over plain models: no Dagster, HTTP or SQL.

config/              the YAML rules files: models and `load_business_rules`
models               ShopOrder / ShopLine: the Shopify order as the rules see it
mapping · bundles · shippable · routing · address · translate    Shopify order → Peoplevox rows
sales_order · sales_order_number                                  what is sent, and its key
cutoff · hold · diff · buffers · statuses · exceptions            changes, timing, audit, stock
"""
