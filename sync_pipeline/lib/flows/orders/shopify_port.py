"""The orders flow's view of Shopify, built on `lib/shopify.ShopifyClient`.

Converts the client's typed GraphQL results into the domain's `ShopOrder`, the one shape every
rule reads. Shopify ids and timestamps pass through unchanged (timestamps are aware UTC).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal

from sync_pipeline.lib.domain.models import Attribute, BundleGroup, ShippingAddress, ShopLine, ShopOrder
from sync_pipeline.lib.flows.orders.ports import ListedOrder, OrderDelivery
from sync_pipeline.lib.ledger.catalogue import VariantRow
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.lib.shopify.models import MailingAddress, Order


def _address(address: MailingAddress | None) -> ShippingAddress | None:
    if address is None:
        return None
    return ShippingAddress(
        name=address.name,
        company=address.company,
        address1=address.address1,
        address2=address.address2,
        city=address.city,
        province_code=address.province_code,
        zip=address.zip,
        country_code=address.country_code_v2,
        phone=address.phone,
    )


def to_shop_order(order: Order) -> ShopOrder:
    shipping_line = order.shipping_line
    return ShopOrder(
        id=order.id,
        name=order.name,
        created_at=order.created_at,
        updated_at=order.updated_at,
        processed_at=order.processed_at,
        financial_status=order.display_financial_status or "PENDING",
        cancelled_at=order.cancelled_at,
        tags=tuple(order.tags),
        customer_tags=tuple(order.customer_tags),
        b2b_company=order.b2b_company.name if order.b2b_company else None,
        b2b_company_location=order.b2b_location.name if order.b2b_location else None,
        custom_attributes=tuple(Attribute(key=a.key, value=a.value) for a in order.custom_attributes),
        source_name=order.source_name,
        shipping_line_code=shipping_line.code if shipping_line else None,
        shipping_line_title=shipping_line.title if shipping_line else None,
        email=order.email,
        phone=order.phone,
        shipping_address=_address(order.shipping_address),
        total=order.total_price_set.shop_money.amount,
        currency=order.currency_code,
        lines=tuple(
            ShopLine(
                id=line.id,
                sku=line.sku,
                quantity=line.current_quantity,
                ordered_quantity=line.quantity,
                requires_shipping=line.requires_shipping,
                is_gift_card=line.is_gift_card,
                unit_price=line.original_unit_price_set.shop_money.amount or Decimal("0"),
                name=line.name,
                bundle_group=(
                    BundleGroup(
                        id=line.line_item_group.id,
                        title=line.line_item_group.title,
                        quantity=line.line_item_group.quantity,
                        parent_sku=line.line_item_group.variant_sku,
                    )
                    if line.line_item_group
                    else None
                ),
            )
            for line in order.line_items
        ),
    )


class ShopifyOrdersSource:
    """`OrdersSource` and `VariantSource` over the Shopify Admin API."""

    def __init__(self, client: ShopifyClient) -> None:
        self.client = client

    def order_changes_since(self, since: datetime) -> Iterator[ListedOrder]:
        for change in self.client.iter_order_changes_since(since):
            yield ListedOrder(
                id=change.id,
                updated_at=change.updated_at,
                cancelled_at=change.cancelled_at,
                # As `to_shop_order` reads it, so that an unchanged order compares equal.
                financial_status=change.display_financial_status or "PENDING",
                email=change.email,
                phone=change.phone,
                tags=frozenset(change.tags),
                line_units=change.current_subtotal_line_items_quantity,
            )

    def orders_created_between(self, start: datetime, end: datetime) -> Iterator[ShopOrder]:
        # A large window is one bulk operation (off the rate limit), a small one pages.
        for order in self.client.iter_orders_created_between(start, end):
            yield to_shop_order(order)

    def orders_by_ids(self, ids: Sequence[str]) -> dict[str, ShopOrder]:
        return {o.id: to_shop_order(o) for o in self.client.get_orders(list(ids))}

    def order_versions(self, ids: Sequence[str]) -> dict[str, datetime]:
        return self.client.get_order_versions(list(ids))

    def order_deliveries(self, ids: Sequence[str]) -> dict[str, OrderDelivery]:
        return {
            d.id: OrderDelivery(
                updated_at=d.updated_at,
                shipping_address=_address(d.shipping_address),
                # As `to_shop_order` reads them, so that an unchanged order compares equal.
                shipping_line_code=d.shipping_line.code if d.shipping_line else None,
                shipping_line_title=d.shipping_line.title if d.shipping_line else None,
                custom_attributes=tuple(Attribute(key=a.key, value=a.value) for a in d.custom_attributes),
            )
            for d in self.client.get_order_deliveries(list(ids))
        }

    def customer_tags(self, ids: Sequence[str]) -> dict[str, tuple[datetime, tuple[str, ...]]]:
        return {
            oid: (v, tuple(tags)) for oid, (v, tags) in self.client.get_order_customer_tags(list(ids)).items()
        }

    def iter_variants(self) -> Iterator[VariantRow]:
        for v in self.client.iter_product_variants():
            yield VariantRow(
                variant_id=v.id,
                sku=v.sku,
                barcode=v.barcode,
                inventory_item_id=v.inventory_item.id,
                product_title=getattr(v, "product_title", None),
                requires_components=v.requires_components,
                product_tags=tuple(v.product_tags),
                tracked=v.inventory_item.tracked,
            )
