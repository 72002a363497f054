import dagster as dg

# Full stock snapshots are partitioned by the hour they were taken (UTC), so the history of what
# Peoplevox said is kept per hour for drift analysis; retention is `stock.yaml`'s.
stock_hour_partitions = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00", end_offset=1)
