"""What the stock flow publishes: every tracked Shopify variant at every mapped location.

A variant's recipe is the Peoplevox item codes one unit of it takes (`sku_overrides.yaml`,
`bundles.yaml`); its buffer comes from `stock_buffers.yaml` with its product tags and velocity.
Shopify bundle parents (`requiresComponents`) are never listed: Shopify refuses writes to them and
derives their availability from their components itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from sync_pipeline.lib.domain.buffers import BufferDecision, buffer_for
from sync_pipeline.lib.domain.bundles import sku_recipe
from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.stock_targets import Listing, Recipe, listing_key
from sync_pipeline.lib.ledger.catalogue import VariantRow

if TYPE_CHECKING:
    from sync_pipeline.lib.flows.stock.demand import Demand


def recipes_for(skus: Iterable[str], rules: BusinessRules) -> dict[str, Recipe]:
    return {sku: sku_recipe(sku, rules.bundles, rules.sku_overrides.overrides) for sku in skus}


def build_listings(
    variants: Iterable[VariantRow], location_ids: Mapping[str, str], rules: BusinessRules, demand: Demand
) -> list[Listing]:
    """One listing per variant per mapped site (`location_ids`: site → Shopify location id). Every
    variant of a SKU is published, as every SKU overridden to one item is: each shows what the item
    has; the first (lowest variant id: `stocked_variants`' order) is keyed by the SKU (`listing_key`)."""
    listings = []
    config = rules.stock_buffers
    # Most variants share their buffer's inputs (no tags, no sales): decide each once, not per variant.
    decided: dict[tuple[str, tuple[str, ...], float], BufferDecision] = {}
    keyed: set[str] = set()
    for variant in variants:
        if not variant.sku or not variant.inventory_item_id:
            continue
        recipe = sku_recipe(variant.sku, rules.bundles, rules.sku_overrides.overrides)
        velocity = demand.sku_per_hour.get(variant.sku, 0.0)
        inputs = (variant.sku if variant.sku in config.by_sku else "", tuple(variant.product_tags), velocity)
        buffer = decided.get(inputs)
        if buffer is None:
            buffer = decided[inputs] = buffer_for(
                variant.sku, variant.product_tags, velocity, config, peak=demand.peak
            )
        key = listing_key(variant.sku, variant.variant_id, variant.sku not in keyed)
        keyed.add(variant.sku)
        for site, location_id in location_ids.items():
            listings.append(Listing(key, variant.inventory_item_id, location_id, site, recipe, buffer))
    return listings
