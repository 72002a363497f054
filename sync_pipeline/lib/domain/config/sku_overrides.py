"""`sku_overrides.yaml`: Shopify SKUs whose Peoplevox item code is not the same text."""

from __future__ import annotations

from pydantic import Field

from .base import ItemCode, RulesModel, Sku


class SkuOverridesConfig(RulesModel):
    # Shopify SKU → Peoplevox item code. A SKU appearing twice is caught while reading the YAML
    # (duplicate key), so this stays a plain mapping. Several SKUs may share one item code
    # (a renamed SKU still on old listings, say).
    overrides: dict[Sku, ItemCode] = Field(default_factory=dict)

    def item_code_for(self, sku: str) -> str | None:
        return self.overrides.get(sku)
