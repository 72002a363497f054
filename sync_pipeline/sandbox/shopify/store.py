"""All sandbox state and every change to it, behind one lock.

GraphQL resolvers, mutations and the control API all call into `Store`, so the rules (stock
moves on order, fulfilment and cancel; monotonic `updatedAt`; which webhooks fire) live in
one place. Webhooks are handed to `emit`, which only enqueues: delivery is asynchronous.

Assumptions (stricter where Shopify's behaviour is not documented):
- One fulfilment order per assigned location (the order's, or a line's own), covering only lines
  that require shipping; gift cards and other non-shipping lines never appear on a fulfilment order.
- A merchant's hold puts a fulfilment order ON_HOLD (nothing can be fulfilled from it); release
  returns it to OPEN, or IN_PROGRESS if part of it was fulfilled. Closing it by hand (CLOSED) or
  a fulfilment service giving up (INCOMPLETE) keeps its remaining quantities but refuses
  fulfilments. Cancelling the order closes its fulfilment orders.
- Each fulfilment created with `notifyCustomer: true` sends one shipping-confirmation email and a
  tracking update with `notifyCustomer: true` one shipping-update email; `emails` records them.
- Placing an order commits stock (available -= q, committed += q) at that location even when
  that drives `available` negative (Shopify does so for "continue selling" items).
- A bundle line is exploded into its components, all in one `lineItemGroup`; the bundle price is
  spread over the components by their own list price (rounded to pennies).
- Timestamps have whole-second precision, as Shopify returns them; an order's `updatedAt` moves
  forward by at least one second on every change, so it is strictly monotonic per order, unless
  `same_second_updates` is on: then two changes in one second share a version, as they do on
  real Shopify, and only the content tells them apart.
- Changing only the shipping address fires `orders/updated`, not `orders/edited` (that topic
  belongs to order edits of line items).
- An order has at most one shipping line, set when it is placed (default: a free "Standard" /
  "STANDARD" shop rate) and never edited; its price counts in the order total.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from . import money, payments, refunds, returns
from .control_models import AddressSpec, EditSpec, LineSpec, OrderSpec, ProductSpec
from .ids import IdSequence, gid, parse_gid
from .model import (
    Component,
    Customer,
    Fulfillment,
    FulfillmentOrder,
    FulfillmentOrderLine,
    InventoryItem,
    Level,
    LineGroup,
    LineItem,
    Location,
    Order,
    Product,
    PurchasingCompany,
    ShippingLine,
    Variant,
    WebhookSubscription,
)

Emit = Callable[[str, dict[str, Any]], None]


class StoreError(ValueError):
    """A control-API request that cannot be applied (unknown SKU, order, location…)."""


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Store:
    def __init__(self, currency: str = "GBP", location_names: list[str] | None = None) -> None:
        self.lock = threading.RLock()
        self.currency = currency
        self.ids = IdSequence()
        self.order_numbers = IdSequence(1001)
        self.locations: dict[int, Location] = {}
        self.products: dict[int, Product] = {}
        self.variants: dict[int, Variant] = {}
        self.items: dict[int, InventoryItem] = {}
        self.levels: dict[tuple[int, int], Level] = {}
        self.orders: dict[int, Order] = {}
        self.companies: dict[tuple[str, str], PurchasingCompany] = {}
        self.fulfillment_orders: dict[int, FulfillmentOrder] = {}
        self.fulfillments: dict[int, Fulfillment] = {}
        self.returns: dict[int, returns.Return] = {}
        self.subscriptions: dict[int, WebhookSubscription] = {}
        self.jobs: dict[int, dict[str, Any]] = {}
        self.idempotency: dict[tuple[str, str], tuple[str, Any]] = {}
        # Emails Shopify would send to customers: {order, fulfillment, kind, tracking_numbers, at}.
        self.emails: list[dict[str, Any]] = []
        # Inventory mutations that moved a quantity: {key, reference, name, rows, at}, so a
        # rehearsal can check every write Shopify applied against the ledger's record of it.
        self.inventory_writes: list[dict[str, Any]] = []
        self.current_idempotency_key: str | None = None  # set while an @idempotent mutation runs
        self.emit: Emit = lambda topic, payload: None
        self.same_second_updates = False
        for name in location_names or ["Warehouse"]:
            self.add_location(name)

    # ----- lookups -------------------------------------------------------------------------
    def now(self) -> datetime:
        return _now()

    def variant_by_sku(self, sku: str) -> Variant:
        for variant in self.variants.values():
            if variant.sku == sku:
                return variant
        raise StoreError(f"unknown SKU {sku!r}")

    def location_ref(self, ref: str | None) -> Location:
        if ref is None:
            return next(iter(self.locations.values()))
        number = parse_gid(ref, "Location")
        for loc in self.locations.values():
            if loc.id == number or loc.name == ref:
                return loc
        raise StoreError(f"unknown location {ref!r}")

    def order(self, ref: str | int) -> Order:
        number = ref if isinstance(ref, int) else parse_gid(ref, "Order")
        if number is None and isinstance(ref, str) and ref.isdigit():
            number = int(ref)
        if number not in self.orders:
            raise StoreError(f"unknown order {ref!r}")
        return self.orders[number]

    def level(self, item_id: int, location_id: int, create: bool = False) -> Level | None:
        key = (item_id, location_id)
        if key not in self.levels and create:
            self.levels[key] = Level(item_id, location_id, {"available": 0, "committed": 0})
        return self.levels.get(key)

    def line_item(self, order: Order, ref: str) -> LineItem:
        number = parse_gid(ref, "LineItem")
        for li in order.line_items:
            if li.id == number:
                return li
        raise StoreError(f"order {order.name} has no line item {ref!r}")

    # ----- catalogue and stock -------------------------------------------------------------
    def add_location(self, name: str) -> Location:
        with self.lock:
            loc = Location(self.ids.next(), name)
            self.locations[loc.id] = loc
            return loc

    def add_product(self, spec: ProductSpec) -> Product:
        with self.lock:
            product = Product(
                self.ids.next(),
                spec.title,
                spec.title.lower().replace(" ", "-"),
                all(v.is_gift_card for v in spec.variants),
                tags=list(spec.tags),
            )
            taken = {v.sku for v in self.variants.values()}  # once per product, not per variant
            for vs in spec.variants:
                if vs.sku in taken and not vs.duplicate_sku:
                    raise StoreError(f"SKU {vs.sku!r} already exists")
                taken.add(vs.sku)
                components = [Component(self.variant_by_sku(c.sku).id, c.quantity) for c in vs.components]
                tracked = not vs.is_gift_card if vs.tracked is None else vs.tracked
                item = InventoryItem(self.ids.next(), 0, tracked=tracked)
                variant = Variant(
                    id=self.ids.next(),
                    product_id=product.id,
                    sku=vs.sku,
                    title=vs.title,
                    price=vs.price,
                    barcode=vs.barcode,
                    inventory_item_id=item.id,
                    requires_shipping=vs.requires_shipping,
                    is_gift_card=vs.is_gift_card,
                    components=components,
                )
                item.variant_id = variant.id
                self.items[item.id] = item
                self.variants[variant.id] = variant
                product.variant_ids.append(variant.id)
                if not components:
                    for loc in self.locations.values():
                        self.level(item.id, loc.id, create=True)
            self.products[product.id] = product
            return product

    def set_stock(self, sku: str, available: int, location: str | None = None) -> Level:
        with self.lock:
            variant = self.variant_by_sku(sku)
            if variant.requires_components:
                raise StoreError(f"{sku} is a bundle; its stock derives from its components")
            level = self.level(variant.inventory_item_id, self.location_ref(location).id, create=True)
            assert level is not None
            level.quantities["available"] = available
            level.updated_at = _now()
            return level

    def move_stock(self, line: LineItem, location_id: int, committed: int, available: int) -> None:
        if line.variant_id is None or not line.requires_shipping:
            return
        variant = self.variants[line.variant_id]
        if not self.items[variant.inventory_item_id].tracked:
            return
        level = self.level(variant.inventory_item_id, location_id, create=True)
        assert level is not None
        level.quantities["committed"] = level.get("committed") + committed
        level.quantities["available"] = level.get("available") + available
        level.updated_at = _now()

    # ----- orders --------------------------------------------------------------------------
    def touch(self, order: Order) -> None:
        self._touch(order)

    def _touch(self, order: Order) -> None:
        step = timedelta(0) if self.same_second_updates else timedelta(seconds=1)
        order.updated_at = max(_now(), order.updated_at + step)

    def _lines_for(self, spec: LineSpec) -> list[LineItem]:
        variant = self.variant_by_sku(spec.sku)
        price = variant.price if spec.price is None else spec.price
        attrs = list(spec.custom_attributes.items())
        if not variant.requires_components:
            return [self._line(variant, spec.quantity, price, None, attrs)]
        product = self.products[variant.product_id]
        group = LineGroup(self.ids.next(), product.title, spec.quantity, variant.id, product.id, variant.sku)
        parts = [(self.variants[c.variant_id], c.quantity) for c in variant.components]
        weight = sum((v.price * q for v, q in parts), Decimal("0")) or Decimal(len(parts))
        lines = []
        for part, per_bundle in parts:
            share = (part.price * per_bundle if weight else Decimal(1)) / weight
            unit = (price * share / per_bundle).quantize(Decimal("0.01"), ROUND_HALF_UP)
            lines.append(self._line(part, per_bundle * spec.quantity, unit, group, attrs))
        return lines

    def _line(
        self, variant: Variant, quantity: int, price: Decimal, group: LineGroup | None, attrs: list[Any]
    ) -> LineItem:
        product = self.products[variant.product_id]
        name = product.title if variant.title == "Default Title" else f"{product.title} - {variant.title}"
        return LineItem(
            id=self.ids.next(),
            variant_id=variant.id,
            sku=variant.sku,
            name=name,
            quantity=quantity,
            current_quantity=quantity,
            unit_price=price,
            requires_shipping=variant.requires_shipping,
            is_gift_card=variant.is_gift_card,
            group=group,
            custom_attributes=attrs,
        )

    def _purchasing_company(self, spec: OrderSpec) -> PurchasingCompany | None:
        # One company (and one location per name) per store, so repeat orders share their ids.
        if spec.company is None:
            return None
        key = (spec.company.name, spec.company.location)
        known = self.companies.get(key)
        if known is None:
            same_company = next((c for (n, _), c in self.companies.items() if n == spec.company.name), None)
            company_id = same_company.company_id if same_company else self.ids.next()
            known = PurchasingCompany(
                company_id,
                spec.company.name,
                self.ids.next(),
                spec.company.location,
                spec.company.external_id,
            )
            self.companies[key] = known
        return known

    def place_order(self, spec: OrderSpec) -> Order:
        with self.lock:
            location = self.location_ref(spec.location)
            placed = [(li, self.location_ref(ls.location or spec.location)) for ls in spec.lines
                      for li in self._lines_for(ls)]  # fmt: skip
            lines = [li for li, _ in placed]
            now = _now()
            customer = Customer(self.ids.next(), spec.customer_name, spec.email, list(spec.customer_tags))
            order = Order(
                id=self.ids.next(),
                number=self.order_numbers.next(),
                created_at=now,
                updated_at=now,
                processed_at=now,
                financial_status=spec.financial_status,
                currency=self.currency,
                email=spec.email,
                phone=spec.phone,
                note=spec.note,
                tags=list(spec.tags),
                custom_attributes=list(spec.custom_attributes.items()),
                source_name=spec.source_name,
                po_number=spec.po_number,
                shipping_address=_address(spec.shipping_address),
                shipping_line=self._shipping_line(spec),
                customer=customer,
                purchasing_company=self._purchasing_company(spec),
                line_items=lines,
                presentment_currency=spec.presentment_currency or self.currency,
                rate=spec.exchange_rate,
                taxes_included=spec.taxes_included,
                tax_rate=spec.tax_rate,
                discount_rate=spec.discount_rate,
            )
            self.orders[order.id] = order
            by_location: dict[int, FulfillmentOrder] = {}
            for li, line_location in placed:
                if not li.requires_shipping:
                    continue
                fo = by_location.get(line_location.id)
                if fo is None:
                    fo = by_location[line_location.id] = FulfillmentOrder(
                        self.ids.next(), order.id, line_location.id, "OPEN", now, now
                    )
                    self.fulfillment_orders[fo.id] = fo
                    order.fulfillment_order_ids.append(fo.id)
                fo.lines.append(FulfillmentOrderLine(self.ids.next(), li.id, li.quantity, li.quantity))
                self.move_stock(li, line_location.id, li.quantity, -li.quantity)
            del location  # every line carries its own location now
            payments.open_payment(self, order, spec.financial_status)
            self._event(order, "placed")
            self.emit("ORDERS_CREATE", {"order": order.id})
            if order.financial_status == "PAID":
                self.emit("ORDERS_PAID", {"order": order.id})
            return order

    def _shipping_line(self, spec: OrderSpec) -> ShippingLine | None:
        s = spec.shipping_line
        if s is None:
            return None
        return ShippingLine(self.ids.next(), s.title, s.code, s.price, s.source, s.carrier_identifier)

    def mark_paid(self, ref: str) -> Order:
        with self.lock:
            order = self.order(ref)
            if order.cancelled_at is not None:
                raise StoreError(f"order {order.name} is cancelled")
            if order.financial_status != "PAID":
                auth = next(
                    (t for t in order.transactions if t.kind == "AUTHORIZATION" and not t.closed), None
                )
                if auth is not None:
                    left = money.capturable(order)
                    payments.capture(self, order, auth.id, left.presentment, order.presentment_currency, True)
                else:
                    payments.pay_balance(self, order)
                self._touch(order)
                self._event(order, "paid")
                self.emit("ORDERS_PAID", {"order": order.id})
                self.emit("ORDERS_UPDATED", {"order": order.id})
            return order

    def _open_fo(self, order: Order) -> FulfillmentOrder | None:
        for fo_id in order.fulfillment_order_ids:
            fo = self.fulfillment_orders[fo_id]
            if fo.status in ("OPEN", "IN_PROGRESS"):
                return fo
        return None

    def fo_line(
        self, order: Order, line: LineItem
    ) -> tuple[FulfillmentOrder | None, FulfillmentOrderLine | None]:
        """The line's fulfilment order line item that still has units to fulfil (after a move the
        line also sits on a closed fulfilment order), else its first."""
        found = [
            (fo, fol)
            for fo in (self.fulfillment_orders[i] for i in order.fulfillment_order_ids)
            for fol in fo.lines
            if fol.line_item_id == line.id
        ]
        live = [
            (fo, fol)
            for fo, fol in found
            if fol.remaining_quantity and fo.status not in ("CLOSED", "CANCELLED")
        ]
        return (live or found or [(None, None)])[0]

    def _set_line_quantity(self, order: Order, line: LineItem, quantity: int) -> None:
        unfulfilled = refunds.unfulfilled_units(line)
        if quantity < line.fulfilled_quantity - line.refunded_fulfilled:
            raise StoreError(f"line {line.sku} has {line.fulfilled_quantity} fulfilled; cannot go below")
        delta = quantity - line.current_quantity
        if unfulfilled == 0 and delta:
            raise StoreError("only unfulfilled items can be edited")
        fo, fol = self.fo_line(order, line)
        if delta > 0:
            line.quantity += delta  # added units count in quantity; removed ones stay counted
        line.current_quantity = quantity
        if fo is not None and fol is not None:
            fol.total_quantity += delta
            fol.remaining_quantity += delta
            fo.updated_at = _now()
            self.move_stock(line, fo.location_id, delta, -delta)

    def edit_order(self, ref: str, spec: EditSpec) -> Order:
        with self.lock:
            order = self.order(ref)
            if order.cancelled_at is not None:
                raise StoreError(f"order {order.name} is cancelled")
            lines_changed = False
            for change in spec.set_quantities:
                self._set_line_quantity(order, self.line_item(order, change.line_item_id), change.quantity)
                lines_changed = True
            for line_ref in spec.remove_line_item_ids:
                self._set_line_quantity(order, self.line_item(order, line_ref), 0)
                lines_changed = True
            for line_spec in spec.add_lines:
                fo = self._open_fo(order)
                for li in self._lines_for(line_spec):
                    order.line_items.append(li)
                    if li.requires_shipping:
                        if fo is None:
                            fo = self._new_fo(order)
                        fo.lines.append(
                            FulfillmentOrderLine(self.ids.next(), li.id, li.quantity, li.quantity)
                        )
                        self.move_stock(li, fo.location_id, li.quantity, -li.quantity)
                lines_changed = True
            if spec.shipping_address is not None:
                order.shipping_address = _address(spec.shipping_address)
            if lines_changed and order.financial_status == "PAID":
                # The customer pays the difference at once (an invoice paid): a paid order stays paid.
                payments.pay_balance(self, order, "shopify_payments")
            payments.settle(order)
            self._touch(order)
            if lines_changed:
                order.edited = True
                self._event(order, "edited")
                self.emit("ORDERS_EDITED", {"order": order.id})
            else:
                self._event(order, "address_changed")
            self.emit("ORDERS_UPDATED", {"order": order.id})
            return order

    def _new_fo(self, order: Order) -> FulfillmentOrder:
        return self.new_fulfillment_order(order, next(iter(self.locations.values())).id)

    def new_fulfillment_order(self, order: Order, location_id: int) -> FulfillmentOrder:
        fo = FulfillmentOrder(self.ids.next(), order.id, location_id, "OPEN", _now(), _now())
        self.fulfillment_orders[fo.id] = fo
        order.fulfillment_order_ids.append(fo.id)
        return fo

    def cancel_order(self, ref: str, reason: str, restock: bool) -> Order:
        with self.lock:
            order = self.order(ref)
            if order.cancelled_at is not None:
                raise StoreError(f"order {order.name} is already cancelled")
            if any(li.fulfilled_quantity for li in order.line_items):
                raise StoreError(f"order {order.name} has fulfilments; cancel them first")
            # Every unfulfilled unit is cancelled (restocked or not) and the money goes back.
            refunded = refunds.refund_everything_left(self, order, restock)
            for fo_id in order.fulfillment_order_ids:
                fo = self.fulfillment_orders[fo_id]
                fo.status = "CLOSED"
                fo.updated_at = _now()
            now = _now()
            order.cancelled_at = now
            order.cancel_reason = reason
            order.closed_at = now
            payments.settle(order)
            self._touch(order)
            self._event(order, "cancelled", reason=reason, restock=restock)
            if refunded is not None:
                self.emit("REFUNDS_CREATE", {"order": order.id, "refund": refunded.id})
            self.emit("ORDERS_CANCELLED", {"order": order.id})
            self.emit("ORDERS_UPDATED", {"order": order.id})
            return order

    def fulfillment_order_action(self, ref: str, action: str, location: str | None = None) -> Order:
        """A merchant holds, releases or closes an order's fulfilment orders in the admin (only
        the one assigned to the location named `location`, when given)."""
        with self.lock:
            order = self.order(ref)
            if location is not None and not any(loc.name == location for loc in self.locations.values()):
                raise StoreError(f"no location named {location!r}")
            now = _now()
            for fo_id in order.fulfillment_order_ids:
                fo = self.fulfillment_orders[fo_id]
                if location is not None and self.locations[fo.location_id].name != location:
                    continue
                if action == "hold" and fo.status in ("OPEN", "IN_PROGRESS"):
                    fo.held_from, fo.status = fo.status, "ON_HOLD"
                elif action == "release" and fo.status == "ON_HOLD":
                    fo.status, fo.held_from = fo.held_from or "OPEN", None
                elif action in ("close", "incomplete") and fo.status in ("OPEN", "IN_PROGRESS", "ON_HOLD"):
                    fo.status = "CLOSED" if action == "close" else "INCOMPLETE"
                elif action == "report_progress" and fo.status in ("OPEN", "IN_PROGRESS"):
                    fo.status, fo.progress_reported = "IN_PROGRESS", True
                elif action == "open" and fo.progress_reported:
                    fo.progress_reported = False
                    fulfilled = any(x.total_quantity != x.remaining_quantity for x in fo.lines)
                    fo.status = "IN_PROGRESS" if fulfilled else "OPEN"
                else:
                    continue
                fo.updated_at = now
            self._touch(order)
            self._event(order, f"fulfillment_orders_{action}")
            self.emit("ORDERS_UPDATED", {"order": order.id})
            return order

    def email(self, order: Order, fulfillment_id: int, kind: str, tracking: list[dict[str, Any]]) -> None:
        numbers = [t["number"] for t in tracking if t.get("number")]
        self.emails.append(
            {"order": gid("Order", order.id), "fulfillment": gid("Fulfillment", fulfillment_id), "kind": kind,
             "tracking_numbers": numbers, "at": _now().isoformat()}
        )  # fmt: skip
        self._event(order, f"{kind}_sent", fulfillment=gid("Fulfillment", fulfillment_id))

    def _event(self, order: Order, kind: str, **detail: Any) -> None:
        order.events.append({"at": _now().isoformat(), "kind": kind, **detail})


def _address(spec: AddressSpec | None) -> dict[str, str | None] | None:
    if spec is None:
        return None
    data = spec.model_dump()
    if data.get("name") is None:
        parts = [data.get("first_name"), data.get("last_name")]
        data["name"] = " ".join(p for p in parts if p) or None
    return data
