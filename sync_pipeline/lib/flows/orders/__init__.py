"""Orders to the warehouse: ingest from Shopify, release after the hold window, inject into Peoplevox."""
