"""GraphQL views over the store's records.

graphql-core's default resolver reads an attribute named like the field and, when it is a
method, calls it with `(info, **arguments)`. Each view therefore exposes Shopify's camelCase
field names directly; `typename` tells abstract types (Node, DisplayableError) what they hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import GraphQLError

from . import refunds
from .finance_views import OrderMoney, bag
from .ids import gid, parse_gid
from .model import QUANTITY_NAMES, iso
from .money import shipping_price, unit_price
from .paging import connection
from .search import id_field, search_filter, time_field

if TYPE_CHECKING:
    from .model import (
        Fulfillment,
        FulfillmentOrder,
        FulfillmentOrderLine,
        InventoryItem,
        Level,
        LineItem,
        Location,
        Order,
        Product,
        Variant,
        WebhookSubscription,
    )
    from .store import Store


def attributes(pairs: list[tuple[str, str | None]]) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in pairs]


def by_id(record: Any) -> list[Any]:
    return [record.id]


# `Location.inventoryLevels(query:)` filters (the schema lists created_at, id, inventory_group_id,
# inventory_item_id and updated_at; the sandbox serves these two, any other term is ignored and
# reported). A level's updatedAt moves whenever one of its quantities changes (assumed).
LEVEL_FIELDS = {
    "updated_at": time_field(lambda lv: lv.updated_at),
    "inventory_item_id": id_field(lambda lv: lv.item_id),
}


class LocationView:
    typename = "Location"

    def __init__(self, store: Store, loc: Location) -> None:
        self._store, self._loc = store, loc
        self.id = gid("Location", loc.id)
        self.legacyResourceId = str(loc.id)
        self.name = loc.name
        self.isActive = loc.is_active
        self.fulfillsOnlineOrders = True

    def inventoryLevels(self, info: Any, query: str | None = None, **args: Any) -> dict[str, Any]:
        """The levels stocked at this location; `query` filters on `updated_at` and `inventory_item_id`."""
        flt = search_filter(info, query, LEVEL_FIELDS)
        levels = [
            lv for (_, loc_id), lv in self._store.levels.items() if loc_id == self._loc.id and flt.matches(lv)
        ]
        return connection(
            levels, lambda lv: [lv.item_id], lambda lv: LevelView(self._store, lv), **_paging(args)
        )


class ProductView:
    typename = "Product"

    def __init__(self, store: Store, product: Product) -> None:
        self._store, self._p = store, product
        self.id = gid("Product", product.id)
        self.legacyResourceId = str(product.id)
        self.title = product.title
        self.handle = product.handle
        self.status = "ACTIVE"
        self.isGiftCard = product.is_gift_card
        self.tags = list(product.tags)

    def variants(self, info: Any, **args: Any) -> dict[str, Any]:
        records = [self._store.variants[v] for v in self._p.variant_ids]
        return connection(records, by_id, lambda v: VariantView(self._store, v), **_paging(args))


class VariantView:
    typename = "ProductVariant"

    def __init__(self, store: Store, variant: Variant) -> None:
        self._store, self._v = store, variant
        self.id = gid("ProductVariant", variant.id)
        self.legacyResourceId = str(variant.id)
        self.title = variant.title
        self.sku = variant.sku
        self.barcode = variant.barcode
        self.price = str(variant.price)
        self.requiresComponents = variant.requires_components

    @property
    def displayName(self) -> str:
        return f"{self._store.products[self._v.product_id].title} - {self._v.title}"

    def product(self, info: Any) -> ProductView:
        return ProductView(self._store, self._store.products[self._v.product_id])

    def inventoryItem(self, info: Any) -> ItemView:
        return ItemView(self._store, self._store.items[self._v.inventory_item_id])

    def productVariantComponents(self, info: Any, **args: Any) -> dict[str, Any]:
        comps = list(enumerate(self._v.components))

        def wrap(pair: tuple[int, Any]) -> dict[str, Any]:
            index, comp = pair
            return {
                "typename": "ProductVariantComponent",
                "id": gid("ProductVariantComponent", self._v.id * 100 + index),
                "quantity": comp.quantity,
                "productVariant": VariantView(self._store, self._store.variants[comp.variant_id]),
            }

        return connection(comps, lambda p: [p[0]], wrap, **_paging(args))


class ItemView:
    typename = "InventoryItem"

    def __init__(self, store: Store, item: InventoryItem) -> None:
        self._store, self._item = store, item
        variant = store.variants[item.variant_id]
        self.id = gid("InventoryItem", item.id)
        self.legacyResourceId = str(item.id)
        self.sku = variant.sku
        self.tracked = item.tracked
        self.requiresShipping = variant.requires_shipping

    def inventoryLevel(self, info: Any, locationId: str, includeInactive: bool = False) -> LevelView | None:
        location_id = parse_gid(locationId, "Location")
        level = self._store.levels.get((self._item.id, location_id)) if location_id else None
        return LevelView(self._store, level) if level else None

    def inventoryLevels(self, info: Any, **args: Any) -> dict[str, Any]:
        levels = [lv for (item_id, _), lv in self._store.levels.items() if item_id == self._item.id]
        return connection(
            levels, lambda lv: [lv.location_id], lambda lv: LevelView(self._store, lv), **_paging(args)
        )


class LevelView:
    typename = "InventoryLevel"

    def __init__(self, store: Store, level: Level) -> None:
        self._store, self._level = store, level
        self.id = gid("InventoryLevel", level.location_id) + f"?inventory_item_id={level.item_id}"
        self.updatedAt = iso(level.updated_at)

    def item(self, info: Any) -> ItemView:
        return ItemView(self._store, self._store.items[self._level.item_id])

    def location(self, info: Any) -> LocationView:
        return LocationView(self._store, self._store.locations[self._level.location_id])

    def quantities(self, info: Any, names: list[str]) -> list[dict[str, Any]]:
        unknown = [n for n in names if n not in QUANTITY_NAMES]
        if unknown:
            raise GraphQLError(
                f"Invalid quantity names: {', '.join(unknown)}", extensions={"code": "BAD_REQUEST"}
            )
        return [
            {
                "typename": "InventoryQuantity",
                "id": f"{self.id}&name={n}",
                "name": n,
                "quantity": self._level.get(n),
                "updatedAt": self.updatedAt,
            }
            for n in names
        ]


class LineItemView:
    typename = "LineItem"

    def __init__(self, store: Store, order: Order, line: LineItem) -> None:
        self._store, self._line = store, line
        self.id = gid("LineItem", line.id)
        self.sku = line.sku
        self.name = line.name
        self.title = line.name.split(" - ")[0]
        self.quantity = line.quantity
        self.currentQuantity = line.current_quantity
        self.unfulfilledQuantity = refunds.unfulfilled_units(line) if order.cancelled_at is None else 0
        self.nonFulfillableQuantity = 0
        self.requiresShipping = line.requires_shipping
        self.isGiftCard = line.is_gift_card
        self.customAttributes = attributes(line.custom_attributes)
        self.originalUnitPriceSet = bag(order, unit_price(order, line))

    def variant(self, info: Any) -> VariantView | None:
        variant = self._store.variants.get(self._line.variant_id or -1)
        return VariantView(self._store, variant) if variant else None

    def lineItemGroup(self, info: Any) -> dict[str, Any] | None:
        group = self._line.group
        if group is None:
            return None
        return {
            "typename": "LineItemGroup",
            "id": gid("LineItemGroup", group.id),
            "title": group.title,
            "quantity": group.quantity,
            "productId": gid("Product", group.product_id),
            "variantId": gid("ProductVariant", group.variant_id),
            "variantSku": group.variant_sku,
            "customAttributes": [],
        }


# What a merchant's app may do next (Shopify lists more, e.g. SPLIT, which we do not serve). MOVE
# only while the fulfilment order can be moved (fo_moves.py); MARK_AS_OPEN once progress is reported.
SUPPORTED_ACTIONS = {
    "OPEN": ["CREATE_FULFILLMENT", "HOLD", "MOVE"],
    "IN_PROGRESS": ["CREATE_FULFILLMENT", "HOLD", "MOVE"],
    "ON_HOLD": ["RELEASE_HOLD"],
    "INCOMPLETE": [],
    "CLOSED": [],
    "CANCELLED": [],
}


class FulfillmentOrderView:
    typename = "FulfillmentOrder"

    def __init__(self, store: Store, fo: FulfillmentOrder) -> None:
        self._store, self._fo = store, fo
        order = store.orders[fo.order_id]
        self.id = gid("FulfillmentOrder", fo.id)
        self.status = fo.status
        self.requestStatus = "UNSUBMITTED"
        self.orderId = gid("Order", order.id)
        self.orderName = order.name
        self.createdAt = iso(fo.created_at)
        self.updatedAt = iso(fo.updated_at)
        actions = SUPPORTED_ACTIONS[fo.status]
        if fo.progress_reported:
            actions = [a for a in actions if a != "MOVE"] + ["MARK_AS_OPEN"]
        self.supportedActions = [{"action": a, "externalUrl": None} for a in actions]
        loc = store.locations[fo.location_id]
        self.assignedLocation = {"name": loc.name, "location": LocationView(store, loc)}

    def order(self, info: Any) -> OrderView:
        return OrderView(self._store, self._store.orders[self._fo.order_id])

    def lineItems(self, info: Any, **args: Any) -> dict[str, Any]:
        return connection(self._fo.lines, by_id, self._wrap_line, **_paging(args))

    def _wrap_line(self, fol: FulfillmentOrderLine) -> dict[str, Any]:
        order = self._store.orders[self._fo.order_id]
        line = next(li for li in order.line_items if li.id == fol.line_item_id)
        variant = self._store.variants.get(line.variant_id or -1)
        return {
            "typename": "FulfillmentOrderLineItem",
            "id": gid("FulfillmentOrderLineItem", fol.id),
            "sku": line.sku,
            "inventoryItemId": gid("InventoryItem", variant.inventory_item_id) if variant else None,
            "totalQuantity": fol.total_quantity,
            "remainingQuantity": fol.remaining_quantity,
            "requiresShipping": line.requires_shipping,
            "lineItem": LineItemView(self._store, order, line),
        }


class FulfillmentView:
    typename = "Fulfillment"

    def __init__(self, store: Store, f: Fulfillment) -> None:
        self._store, self._f = store, f
        self.id = gid("Fulfillment", f.id)
        self.legacyResourceId = str(f.id)
        self.name = f.name
        self.status = f.status
        self.createdAt = iso(f.created_at)
        self.updatedAt = iso(f.updated_at or f.created_at)
        self.totalQuantity = sum(q for _, _, q in f.lines)

    def trackingInfo(self, info: Any, first: int | None = None) -> list[dict[str, Any]]:
        return self._f.tracking[:first] if first is not None else self._f.tracking

    def order(self, info: Any) -> OrderView:
        return OrderView(self._store, self._store.orders[self._f.order_id])

    def fulfillmentLineItems(self, info: Any, **args: Any) -> dict[str, Any]:
        order = self._store.orders[self._f.order_id]

        def wrap(row: tuple[int, int, int]) -> dict[str, Any]:
            line = next(li for li in order.line_items if li.id == row[1])
            return {
                "id": gid("FulfillmentLineItem", row[0]),
                "quantity": row[2],
                "lineItem": LineItemView(self._store, order, line),
            }

        return connection(self._f.lines, lambda r: [r[0]], wrap, **_paging(args))


class OrderView(OrderMoney):
    typename = "Order"

    def __init__(self, store: Store, order: Order) -> None:
        self._store, self._o = store, order
        self.id = gid("Order", order.id)
        self.legacyResourceId = str(order.id)
        self.name = order.name
        self.createdAt = iso(order.created_at)
        self.updatedAt = iso(order.updated_at)
        self.processedAt = iso(order.processed_at)
        self.cancelledAt = iso(order.cancelled_at)
        self.cancelReason = order.cancel_reason
        self.closed = order.closed_at is not None
        self.closedAt = iso(order.closed_at)
        self.displayFinancialStatus = order.financial_status
        self.displayFulfillmentStatus = order.display_fulfillment_status(
            [store.fulfillment_orders[i] for i in order.fulfillment_order_ids]
        )
        self.fullyPaid = order.financial_status == "PAID"
        self.test = order.test
        self.edited = order.edited
        # Every line's current quantity (after edits, refunds and removals); no tip lines here.
        self.currentSubtotalLineItemsQuantity = sum(li.current_quantity for li in order.line_items)
        self.email = order.email
        self.phone = order.phone
        self.note = order.note
        self.tags = sorted(order.tags)
        self.customAttributes = attributes(order.custom_attributes)
        self.sourceName = order.source_name
        self.poNumber = order.po_number
        self.currencyCode = order.currency

    def shippingAddress(self, info: Any) -> dict[str, Any] | None:
        a = self._o.shipping_address
        if a is None:
            return None
        return {
            "typename": "MailingAddress",
            "id": gid("MailingAddress", self._o.id),
            "name": a.get("name"),
            "firstName": a.get("first_name"),
            "lastName": a.get("last_name"),
            "company": a.get("company"),
            "address1": a.get("address1"),
            "address2": a.get("address2"),
            "city": a.get("city"),
            "province": a.get("province"),
            "provinceCode": a.get("province_code"),
            "zip": a.get("zip"),
            "country": a.get("country"),
            "countryCodeV2": a.get("country_code"),
            "phone": a.get("phone"),
        }

    def shippingLine(self, info: Any) -> dict[str, Any] | None:
        s = self._o.shipping_line
        if s is None:
            return None
        return {
            "typename": "ShippingLine",
            "id": gid("ShippingLine", s.id),
            "title": s.title,
            "code": s.code,
            "carrierIdentifier": s.carrier_identifier,
            "source": s.source,
            "custom": False,
            "isRemoved": False,
            "originalPriceSet": bag(self._o, shipping_price(self._o)),
        }

    def customer(self, info: Any) -> dict[str, Any] | None:
        c = self._o.customer
        if c is None:
            return None
        return {
            "typename": "Customer",
            "id": gid("Customer", c.id),
            "displayName": c.display_name,
            "tags": sorted(c.tags),
        }

    def purchasingEntity(self, info: Any) -> dict[str, Any] | None:
        # Shopify: a PurchasingCompany for a B2B order, else the Customer (null for a guest).
        b2b = self._o.purchasing_company
        if b2b is None:
            return self.customer(info)
        return {
            "typename": "PurchasingCompany",
            "company": {
                "typename": "Company",
                "id": gid("Company", b2b.company_id),
                "name": b2b.company_name,
                "externalId": b2b.external_id,
            },
            "location": {
                "typename": "CompanyLocation",
                "id": gid("CompanyLocation", b2b.location_id),
                "name": b2b.location_name,
                "externalId": None,
            },
        }

    def lineItems(self, info: Any, **args: Any) -> dict[str, Any]:
        return connection(
            self._o.line_items, by_id, lambda li: LineItemView(self._store, self._o, li), **_paging(args)
        )

    def fulfillmentOrders(self, info: Any, displayable: bool | None = None, **args: Any) -> dict[str, Any]:
        fos = [self._store.fulfillment_orders[i] for i in self._o.fulfillment_order_ids]
        if displayable:
            fos = [fo for fo in fos if fo.status != "CANCELLED"]
        return connection(fos, by_id, lambda fo: FulfillmentOrderView(self._store, fo), **_paging(args))

    def fulfillments(
        self, info: Any, first: int | None = None, query: str | None = None
    ) -> list[FulfillmentView]:
        views = [FulfillmentView(self._store, self._store.fulfillments[i]) for i in self._o.fulfillment_ids]
        return views[:first] if first is not None else views


class WebhookView:
    typename = "WebhookSubscription"

    def __init__(self, store: Store, sub: WebhookSubscription) -> None:
        self.id = gid("WebhookSubscription", sub.id)
        self.legacyResourceId = str(sub.id)
        self.topic = sub.topic
        self.uri = sub.uri
        self.format = sub.format
        self.includeFields = sub.include_fields
        self.filter = sub.filter
        self.createdAt = iso(sub.created_at)
        self.updatedAt = iso(sub.updated_at)


def _paging(args: dict[str, Any]) -> dict[str, Any]:
    keys = ("first", "after", "last", "before", "reverse")
    return {k: args[k] for k in keys if k in args}
