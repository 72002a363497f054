import dagster as dg

# Orders are partitioned by the day Shopify created them (UTC), so an engineer can backfill any
# range from the UI; a backfill of N days runs as one run (BackfillPolicy.single_run).
order_date_partitions = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_offset=1)
