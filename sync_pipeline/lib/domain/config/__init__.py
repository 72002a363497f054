"""Business rules as data: the files in `data/config/`, validated at load.

rules = load_business_rules(Path("data/config"))   # raises ConfigError naming file, line, key
"""

from .bundles import BundleComponent, BundlesConfig, BundleSpec
from .business_rules import BusinessRules
from .carriers import CarrierRule, CarriersConfig
from .despatches import DespatchesConfig, WithoutTracking
from .errors import ConfigError, ConfigProblem, ConfigWarning
from .finance import FinanceConfig
from .loader import RULES_FILES, load_business_rules
from .orders import OrdersConfig
from .routing import AttributeMatch, Priority, RouteSpec, RoutingConfig, RoutingRule, RuleMatch
from .sku_overrides import SkuOverridesConfig
from .stock import FeedLimits, StockConfig
from .stock_buffers import PeakMode, StockBuffersConfig, VelocityTier

__all__ = [
    "RULES_FILES",
    "AttributeMatch",
    "BundleComponent",
    "BundleSpec",
    "BundlesConfig",
    "BusinessRules",
    "CarrierRule",
    "CarriersConfig",
    "ConfigError",
    "ConfigProblem",
    "ConfigWarning",
    "DespatchesConfig",
    "FeedLimits",
    "FinanceConfig",
    "OrdersConfig",
    "PeakMode",
    "Priority",
    "RouteSpec",
    "RoutingConfig",
    "RoutingRule",
    "RuleMatch",
    "SkuOverridesConfig",
    "StockBuffersConfig",
    "StockConfig",
    "VelocityTier",
    "WithoutTracking",
    "load_business_rules",
]
