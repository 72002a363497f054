"""Shopify Admin GraphQL client: cost-aware transport, typed operations, webhook signatures."""

from .client import ShopifyClient
from .errors import (
    ShopifyError,
    ShopifyOrderTooLarge,
    ShopifyOutcomeUnknown,
    ShopifyQueryError,
    ShopifyRetriesExhausted,
    ShopifySearchWarning,
    ShopifyUserErrors,
    UserError,
)
from .webhooks import sign_webhook, verify_webhook

__all__ = [
    "ShopifyClient",
    "ShopifyError",
    "ShopifyOrderTooLarge",
    "ShopifyOutcomeUnknown",
    "ShopifyQueryError",
    "ShopifyRetriesExhausted",
    "ShopifySearchWarning",
    "ShopifyUserErrors",
    "UserError",
    "sign_webhook",
    "verify_webhook",
]
