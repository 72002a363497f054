"""The steps of each flow as plain functions over the clients (through small ports) and the ledger.

No Dagster here: `defs/` calls these and turns their reports into asset metadata.
"""
