"""How fast things sell, and whether the store is in peak mode (from the ledger's orders)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.stock_priority import HOURS, is_peak, item_velocity, units_per_hour
from sync_pipeline.lib.flows.stock.listings import recipes_for
from sync_pipeline.lib.ledger import stock_orders


@dataclass(frozen=True)
class Demand:
    sku_per_hour: dict[str, float]  # units sold per hour over the last 24 h, per Shopify SKU
    item_per_hour: dict[str, float]  # the same per Peoplevox item code (bundles count for components)
    orders_in_window: int
    peak: bool


def demand_from(con: duckdb.DuckDBPyConnection, rules: BusinessRules, now: datetime) -> Demand:
    peak = rules.stock_buffers.peak
    window = timedelta(minutes=peak.window_minutes if peak else 10)
    sold = {sku: s.units for sku, s in stock_orders.sold_since(con, now - timedelta(hours=HOURS)).items()}
    recent = stock_orders.orders_since(con, now - window)
    return Demand(
        {sku: units_per_hour(units) for sku, units in sold.items()},
        item_velocity(sold, recipes_for(sold, rules)),
        recent,
        is_peak(recent, peak),
    )
