"""Units held back from Shopify per SKU: Shopify available = Peoplevox available − buffer.

Precedence (documented in stock_buffers.yaml): SKU > product tag (largest of the matching
tags) > velocity tier (highest tier reached) > default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .config.stock_buffers import StockBuffersConfig


@dataclass(frozen=True)
class BufferDecision:
    buffer: int
    source: str  # "sku", "tag", "velocity" or "default": shown in the stock push audit


def buffer_for(
    sku: str, product_tags: Sequence[str], units_per_day: float | None, config: StockBuffersConfig
) -> BufferDecision:
    if sku in config.by_sku:
        return BufferDecision(config.by_sku[sku], "sku")
    tag_buffer = config.tag_buffer(tuple(product_tags))
    if tag_buffer is not None:
        return BufferDecision(tag_buffer, "tag")
    if units_per_day is not None:
        tier_buffer = config.tier_buffer(units_per_day)
        if tier_buffer is not None:
            return BufferDecision(tier_buffer, "velocity")
    return BufferDecision(config.default, "default")


def publishable_quantity(warehouse_available: int, buffer: int) -> int:
    """Never negative: a negative `available` in Shopify would oversell on some settings."""
    return max(0, warehouse_available - buffer)
