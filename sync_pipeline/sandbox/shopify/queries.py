"""Root query resolvers: each one reads the store under its lock and returns views."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from .ids import gid_kind, parse_gid
from .model import Order, iso
from .paging import connection, root_connection
from .search import Filter, id_field, search_filter, text_field, time_field
from .store import Store, StoreError
from .views import (
    FulfillmentOrderView,
    FulfillmentView,
    ItemView,
    LevelView,
    LocationView,
    OrderView,
    ProductView,
    VariantView,
    WebhookView,
    by_id,
)

FULFILLMENT_ALIASES = {
    "unshipped": {"UNFULFILLED"},
    "unfulfilled": {"UNFULFILLED"},
    "shipped": {"FULFILLED"},
    "fulfilled": {"FULFILLED"},
    "partial": {"PARTIALLY_FULFILLED"},
}
ORDER_SORT = {
    "UPDATED_AT": lambda o: [iso(o.updated_at), o.id],
    "CREATED_AT": lambda o: [iso(o.created_at), o.id],
    "PROCESSED_AT": lambda o: [iso(o.processed_at), o.id],
    "ID": lambda o: [o.id],
    "ORDER_NUMBER": lambda o: [o.number, o.id],
}


def _status(order: Order, value: str) -> bool:
    value = value.lower()
    closed = order.closed_at is not None
    return {
        "open": not closed and order.cancelled_at is None,
        "closed": closed,
        "cancelled": order.cancelled_at is not None,
        "not_closed": not closed,
        "any": True,
    }.get(value, False)


ORDER_FIELDS = {
    "updated_at": time_field(lambda o: o.updated_at),
    "created_at": time_field(lambda o: o.created_at),
    "processed_at": time_field(lambda o: o.processed_at),
    "financial_status": text_field(lambda o: o.financial_status),
    "fulfillment_status": lambda o, t: (
        o.fulfillment_status() in FULFILLMENT_ALIASES.get(t.value.lower(), set())
    ),
    "status": lambda o, t: _status(o, t.value),
    "tag": lambda o, t: t.value.lower() in {x.lower() for x in o.tags},
    "tag_not": lambda o, t: t.value.lower() not in {x.lower() for x in o.tags},
    "id": id_field(lambda o: o.id),
    "name": lambda o, t: o.name.lstrip("#") == t.value.lstrip("#"),
    "sku": lambda o, t: any(li.sku == t.value for li in o.line_items),
    "source_name": text_field(lambda o: o.source_name),
    "email": text_field(lambda o: o.email),
}


VARIANT_FIELDS = {
    "sku": text_field(lambda v: v.sku),
    "barcode": text_field(lambda v: v.barcode),
    "id": id_field(lambda v: v.id),
    "product_id": id_field(lambda v: v.product_id),
    "requires_components": lambda v, t: str(v.requires_components).lower() == t.value.lower(),
}


def _count(found: int, limit: int | None) -> dict[str, Any]:
    """Shopify's `Count`: exact up to `limit` (10,000 by default), AT_LEAST the limit beyond it."""
    if limit is not None and found > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": found, "precision": "EXACT"}


class QueryResolvers:
    store: Store

    def _filter(self, info: Any, query: str | None, fields: dict[str, Any]) -> Filter:
        return search_filter(info, query, fields)

    def shop(self, info: Any) -> dict[str, Any]:
        config = info.context["config"]
        return {
            "typename": "Shop",
            "id": "gid://shopify/Shop/1",
            "name": config.shop_name,
            "myshopifyDomain": config.shop_domain,
            "currencyCode": self.store.currency,
            "plan": {
                "partnerDevelopment": False,
                "publicDisplayName": config.plan.title(),
                "shopifyPlus": config.plan == "plus",
            },
        }

    def locations(
        self, info: Any, includeInactive: bool = False, query: str | None = None, **args: Any
    ) -> Any:
        flt = self._filter(
            info, query, {"name": text_field(lambda loc: loc.name), "id": id_field(lambda x: x.id)}
        )
        with self.store.lock:
            locs = [
                x
                for x in self.store.locations.values()
                if (x.is_active or includeInactive) and flt.matches(x)
            ]
            sort = (lambda x: [x.name, x.id]) if args.pop("sortKey", "NAME") == "NAME" else by_id
            return connection(locs, sort, lambda x: LocationView(self.store, x), **args)

    def location(self, info: Any, id: str | None = None) -> LocationView | None:
        with self.store.lock:
            try:
                return LocationView(self.store, self.store.location_ref(id))
            except StoreError:
                return None

    def products(self, info: Any, query: str | None = None, **args: Any) -> Any:
        flt = self._filter(
            info, query, {"title": text_field(lambda p: p.title), "id": id_field(lambda p: p.id)}
        )
        args.pop("sortKey", None)
        args.pop("savedSearchId", None)
        with self.store.lock:
            return root_connection(
                ("products", query),
                lambda: [p for p in self.store.products.values() if flt.matches(p)],
                by_id,
                lambda p: ProductView(self.store, p),
                **args,
            )

    def product(self, info: Any, id: str) -> ProductView | None:
        number = parse_gid(id, "Product")
        p = self.store.products.get(number or -1)
        return ProductView(self.store, p) if p else None

    def productVariants(self, info: Any, query: str | None = None, **args: Any) -> Any:
        flt = self._filter(info, query, VARIANT_FIELDS)
        args.pop("sortKey", None)
        args.pop("savedSearchId", None)
        with self.store.lock:
            return root_connection(
                ("productVariants", query),
                lambda: [v for v in self.store.variants.values() if flt.matches(v)],
                by_id,
                lambda v: VariantView(self.store, v),
                **args,
            )

    def productVariant(self, info: Any, id: str) -> VariantView | None:
        v = self.store.variants.get(parse_gid(id, "ProductVariant") or -1)
        return VariantView(self.store, v) if v else None

    def inventoryItems(self, info: Any, query: str | None = None, **args: Any) -> Any:
        fields = {
            "id": id_field(lambda i: i.id),
            "sku": text_field(lambda i: self.store.variants[i.variant_id].sku),
        }
        flt = self._filter(info, query, fields)
        with self.store.lock:
            items = [i for i in self.store.items.values() if flt.matches(i)]
            return connection(items, by_id, lambda i: ItemView(self.store, i), **args)

    def inventoryItem(self, info: Any, id: str) -> ItemView | None:
        item = self.store.items.get(parse_gid(id, "InventoryItem") or -1)
        return ItemView(self.store, item) if item else None

    def orders(self, info: Any, query: str | None = None, sortKey: str = "PROCESSED_AT", **args: Any) -> Any:
        args.pop("savedSearchId", None)
        flt = self._filter(info, query, ORDER_FIELDS)
        sort = ORDER_SORT.get(sortKey, ORDER_SORT["ID"])
        with self.store.lock:
            return root_connection(
                ("orders", query, sortKey),
                lambda: [o for o in self.store.orders.values() if flt.matches(o)],
                sort,
                lambda o: OrderView(self.store, o),
                **args,
            )

    def ordersCount(self, info: Any, query: str | None = None, limit: int | None = 10000, **_: Any) -> Any:
        flt = self._filter(info, query, ORDER_FIELDS)
        with self.store.lock:
            return _count(sum(1 for o in self.store.orders.values() if flt.matches(o)), limit)

    def productVariantsCount(self, info: Any, query: str | None = None, limit: int | None = 10000) -> Any:
        flt = self._filter(info, query, VARIANT_FIELDS)
        with self.store.lock:
            return _count(sum(1 for v in self.store.variants.values() if flt.matches(v)), limit)

    def order(self, info: Any, id: str) -> OrderView | None:
        o = self.store.orders.get(parse_gid(id, "Order") or -1)
        return OrderView(self.store, o) if o else None

    def fulfillmentOrder(self, info: Any, id: str) -> FulfillmentOrderView | None:
        fo = self.store.fulfillment_orders.get(parse_gid(id, "FulfillmentOrder") or -1)
        return FulfillmentOrderView(self.store, fo) if fo else None

    def webhookSubscriptions(self, info: Any, **args: Any) -> Any:
        topics = args.pop("topics", None)
        uri = args.pop("uri", None) or args.pop("callbackUrl", None)
        for unused in ("query", "sortKey", "format", "callbackUrl"):
            args.pop(unused, None)
        with self.store.lock:
            subs = [
                s
                for s in self.store.subscriptions.values()
                if (not topics or s.topic in topics) and (uri is None or s.uri == uri)
            ]
            return connection(subs, by_id, lambda s: WebhookView(self.store, s), **args)

    def webhookSubscription(self, info: Any, id: str) -> WebhookView | None:
        s = self.store.subscriptions.get(parse_gid(id, "WebhookSubscription") or -1)
        return WebhookView(self.store, s) if s else None

    def job(self, info: Any, id: str) -> dict[str, Any] | None:
        job = self.store.jobs.get(parse_gid(id, "Job") or -1)
        return {"id": id, "done": job["done"]} if job else None

    def node(self, info: Any, id: str) -> Any:
        if gid_kind(id) == "BulkOperation":
            return self.bulkOperation(info, id)  # type: ignore[attr-defined]  # BulkResolvers, on Root
        return self._node(id)

    def nodes(self, info: Any, ids: list[str]) -> list[Any]:
        with self.store.lock:
            return [self._node(i) for i in ids]

    def _node(self, value: str) -> Any:
        kind = gid_kind(value)
        number = parse_gid(value.split("?")[0])
        s = self.store
        if kind is None or number is None:
            raise GraphQLError(
                f"Invalid global id '{value}'", extensions={"code": "argumentLiteralsIncompatible"}
            )
        lookups: dict[str, Any] = {
            "Order": lambda: s.orders.get(number) and OrderView(s, s.orders[number]),
            "ProductVariant": lambda: s.variants.get(number) and VariantView(s, s.variants[number]),
            "Product": lambda: s.products.get(number) and ProductView(s, s.products[number]),
            "InventoryItem": lambda: s.items.get(number) and ItemView(s, s.items[number]),
            "Location": lambda: s.locations.get(number) and LocationView(s, s.locations[number]),
            "FulfillmentOrder": lambda: (
                s.fulfillment_orders.get(number) and FulfillmentOrderView(s, s.fulfillment_orders[number])
            ),
            "Fulfillment": lambda: s.fulfillments.get(number) and FulfillmentView(s, s.fulfillments[number]),
            "WebhookSubscription": lambda: (
                s.subscriptions.get(number) and WebhookView(s, s.subscriptions[number])
            ),
            "InventoryLevel": lambda: self._level_node(value, number),
            "Refund": lambda: self._refund_node(number),
        }
        found = lookups.get(kind, lambda: None)()
        return found or None

    def _refund_node(self, refund_id: int) -> Any:
        from .finance_views import RefundView

        for order in self.store.orders.values():
            for refund in order.refunds:
                if refund.id == refund_id:
                    return RefundView(self.store, order, refund)
        return None

    def _level_node(self, value: str, location_id: int) -> LevelView | None:
        _, _, query = value.partition("?inventory_item_id=")
        level = self.store.levels.get((int(query), location_id)) if query.isdigit() else None
        return LevelView(self.store, level) if level else None
