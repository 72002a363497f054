import dagster as dg

# Despatches are partitioned by the day Peoplevox despatched them (UTC), so an engineer can
# backfill any range from the UI; a backfill of N days runs as one run.
despatch_date_partitions = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_offset=1)
