"""The Shopify order as the domain rules see it, independent of any API client.

The Shopify client (or the ledger) builds these; every rule in this package reads only them,
so the rules can be tested without HTTP and reused for backfills from stored snapshots.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BundleGroup(_Frozen):
    """Shopify `lineItemGroup`: the line is a component of a native bundle, already exploded."""

    id: str
    title: str
    quantity: int = Field(ge=0)
    parent_sku: str | None = None


class ShopLine(_Frozen):
    id: str
    sku: str | None
    # `currentQuantity`: excludes removed and refunded units, so it is what is left to ship.
    quantity: int = Field(ge=0)
    # Shopify's `quantity`: units ordered, still counting the ones an edit removed or a refund took
    # back. A refund of a unit already fulfilled (a returned parcel) lowers `currentQuantity` only,
    # so this is the most units the line can have fulfilled (`flows/despatches/audit.py`). None in a
    # copy written before 2026-12-01.
    ordered_quantity: int | None = Field(default=None, ge=0)
    requires_shipping: bool = True
    is_gift_card: bool = False
    unit_price: Decimal = Decimal("0")
    name: str = ""
    bundle_group: BundleGroup | None = None


class ShippingAddress(_Frozen):
    name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country_code: str | None = None
    phone: str | None = None


class Attribute(_Frozen):
    key: str
    value: str | None = None


class ShopOrder(_Frozen):
    id: str  # gid://shopify/Order/<legacy id>
    name: str  # "#1001"; not unique across shops
    created_at: datetime
    updated_at: datetime
    processed_at: datetime | None = None
    # `displayFinancialStatus`: PAID, PARTIALLY_REFUNDED, REFUNDED, PENDING…
    financial_status: str = "PAID"
    cancelled_at: datetime | None = None
    tags: tuple[str, ...] = ()
    # None: not read yet. An order recorded from its webhook body (no body carries customer tags
    # since API 2025-01) until a read fills them in (`flows/orders/customer_tags.py`).
    customer_tags: tuple[str, ...] | None = ()
    # Shopify B2B (`purchasingEntity`): the company and company location the order was placed
    # for. Set only by the merchant, so routing may trust them; None for a DTC order.
    b2b_company: str | None = None
    b2b_company_location: str | None = None
    # Cart attributes: set by whoever is on the storefront. Never route B2B on them.
    custom_attributes: tuple[Attribute, ...] = ()
    source_name: str | None = None
    shipping_line_code: str | None = None
    shipping_line_title: str | None = None
    email: str | None = None
    phone: str | None = None
    shipping_address: ShippingAddress | None = None
    total: Decimal = Decimal("0")
    currency: str = "GBP"
    lines: tuple[ShopLine, ...] = ()

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None
