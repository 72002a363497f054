"""All business rules together, and the checks that span more than one file."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import RulesModel, SemanticProblem
from .bundles import BundlesConfig
from .carriers import CarriersConfig
from .despatches import DespatchesConfig
from .finance import FinanceConfig
from .ops import OpsConfig
from .orders import OrdersConfig
from .routing import RoutingConfig
from .sku_overrides import SkuOverridesConfig
from .stock import StockConfig
from .stock_buffers import StockBuffersConfig


class BusinessRules(RulesModel):
    routing: RoutingConfig
    sku_overrides: SkuOverridesConfig = Field(default_factory=SkuOverridesConfig)
    bundles: BundlesConfig = Field(default_factory=BundlesConfig)
    stock_buffers: StockBuffersConfig = Field(default_factory=StockBuffersConfig)
    orders: OrdersConfig = Field(default_factory=OrdersConfig)
    carriers: CarriersConfig = Field(default_factory=CarriersConfig)
    despatches: DespatchesConfig = Field(default_factory=DespatchesConfig)
    ops: OpsConfig = Field(default_factory=OpsConfig)
    finance: FinanceConfig = Field(default_factory=FinanceConfig)
    stock: StockConfig = Field(default_factory=StockConfig)

    def semantic_problems(self) -> list[SemanticProblem]:
        # Paths start with the section name so the loader can tell which file to blame.
        problems: list[SemanticProblem] = []
        for bundle_sku in self.bundles.bundles:
            if bundle_sku in self.sku_overrides.overrides:
                problems.append(
                    SemanticProblem(
                        ("bundles", "bundles", bundle_sku),
                        f"{bundle_sku!r} is both a bundle and a SKU override; if the warehouse stocks it "
                        "as one item keep only the override, otherwise remove the override",
                    )
                )
        for site in self.stock.locations:
            if site not in self.routing.sites:
                problems.append(
                    SemanticProblem(
                        ("stock", "locations", site),
                        f"site {site!r} is not one of routing.yaml's sites ({', '.join(self.routing.sites)})",
                    )
                )
        return problems

    def with_orders(self, **changes: Any) -> BusinessRules:
        """A copy with some `orders.yaml` settings replaced and re-validated (the demo's short hold)."""
        orders = OrdersConfig.model_validate({**self.orders.model_dump(), **changes})
        return self.model_copy(update={"orders": orders})
