"""Shopify ⇄ Peoplevox sync on Dagster: orders to the warehouse, despatches and stock back."""

__version__ = "0.1.0"
