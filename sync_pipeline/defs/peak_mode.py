"""Whether peak mode is on now, as the orders flow's latest ingest run judged it.

Each ingest run records `peak_mode` in its `shopify/orders` metadata (`lib/flows/stock/peak.py`),
and a live ingest polls at least once a minute. A judgement older than `FRESH_SECONDS` is not
trusted: with the ingest stopped (paused, failing) a sale's "on" would otherwise last for ever, and
with it the reconciles every few minutes and the finance pass held back.
"""

from __future__ import annotations

import time

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.inbox_sensors import latest_metadata

FRESH_SECONDS = 15 * 60


def in_peak_mode(source: dg.SensorEvaluationContext | dg.DagsterInstance) -> bool:
    """True when the latest ingest run, at most `FRESH_SECONDS` old, recorded peak mode on."""
    at, ingest = latest_metadata(source, brand.key("shopify", "orders"))
    return ingest.get("peak_mode") is True and _now() - at <= FRESH_SECONDS


def _now() -> float:
    return time.time()
