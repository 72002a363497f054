"""Units held back from Shopify per SKU: Shopify available = Peoplevox available − buffer.

Precedence (documented in stock_buffers.yaml): SKU > product tag (largest of the matching
tags) > velocity tier (highest tier reached) > default. In peak mode every buffer but a SKU's
own grows by `peak.extra_buffer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .config.stock_buffers import StockBuffersConfig


@dataclass(frozen=True)
class BufferDecision:
    buffer: int
    source: str  # "sku", "tag", "velocity" or "default", with "+peak" in peak mode: shown in the audit


def buffer_for(
    sku: str,
    product_tags: Sequence[str],
    units_per_hour: float | None,
    config: StockBuffersConfig,
    peak: bool = False,
) -> BufferDecision:
    if sku in config.by_sku:
        return BufferDecision(config.by_sku[sku], "sku")
    decision = BufferDecision(config.default, "default")
    tag_buffer = config.tag_buffer(tuple(product_tags))
    if tag_buffer is not None:
        decision = BufferDecision(tag_buffer, "tag")
    elif units_per_hour is not None:
        tier_buffer = config.tier_buffer(units_per_hour)
        if tier_buffer is not None:
            decision = BufferDecision(tier_buffer, "velocity")
    if peak and config.peak is not None and config.peak.extra_buffer:
        return BufferDecision(decision.buffer + config.peak.extra_buffer, decision.source + "+peak")
    return decision


def publishable_quantity(warehouse_available: int, buffer: int) -> int:
    """Never negative: a negative `available` in Shopify would oversell on some settings."""
    return max(0, warehouse_available - buffer)
