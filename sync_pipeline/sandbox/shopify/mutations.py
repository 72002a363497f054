"""Mutation resolvers: fulfilments, inventory writes, cancellation and webhook subscriptions.

Assumptions (stricter where Shopify does not document the behaviour):
- `inventorySetQuantities` and `inventoryAdjustQuantities` refuse to run without
  `@idempotent(key:)` (mandatory at runtime since 2026-04): a top-level error, code BAD_REQUEST.
- Every quantity must carry `changeFromQuantity` (explicit null skips the check); a missing one
  is a user error (`COMPARE_QUANTITY_REQUIRED` on set, code null on adjust).
- A batch with any user error changes nothing (all or nothing), so one bundle parent fails the
  whole batch with `NON_MUTABLE_INVENTORY_ITEM`, as reported against real Shopify.
- An idempotency key replayed with the same input returns the first result, user errors included;
  with different input it is `IDEMPOTENCY_KEY_PARAMETER_MISMATCH`. Keys are scoped per mutation.
- `orderCancel` answers at once with a job that is not done; the cancellation itself is applied
  a moment later on a background timer, so callers must poll `job(id:)` or re-read the order.
- `fulfillmentCreate` refuses fulfilment orders that are not OPEN or IN_PROGRESS (ON_HOLD, CLOSED,
  INCOMPLETE, CANCELLED) and any quantity above `remainingQuantity`, with Shopify's user-error texts;
  nothing is fulfilled when any part is refused.
- `fulfillmentTrackingInfoUpdate` replaces the tracking of a fulfilment; with `notifyCustomer: true`
  Shopify sends a shipping-update email (recorded like the confirmation emails).
- Webhook subscriptions accept `http://` URIs (Shopify demands https) so tests can listen on
  127.0.0.1.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError, GraphQLString, value_from_ast

from .ids import gid, parse_gid
from .model import QUANTITY_NAMES, Fulfillment, iso
from .store import Store, StoreError
from .views import FulfillmentView, ItemView, LocationView, OrderView, WebhookView

REASONS = {
    "correction", "cycle_count_available", "damaged", "movement_created", "movement_updated",
    "movement_received", "movement_canceled", "other", "promotion", "quality_control", "received",
    "reservation_created", "reservation_deleted", "reservation_updated", "restock", "safety_stock",
    "shrinkage",
}  # fmt: skip
CANCEL_DELAY_SECONDS = 0.05


def _error(field: list[str], message: str, code: str | None = None) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code}


def idempotency_key(info: Any) -> str | None:
    for directive in info.field_nodes[0].directives or []:
        if directive.name.value == "idempotent":
            for arg in directive.arguments:
                if arg.name.value == "key":
                    return value_from_ast(arg.value, GraphQLString, info.variable_values)
    return None


class MutationResolvers:
    store: Store

    # ----- idempotency ----------------------------------------------------------------------
    def _idempotent(
        self, info: Any, name: str, payload: dict[str, Any], run: Any, empty: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run once per key: a replay with the same input gets the first answer, with other input a
        user error. `empty` is the payload's shape without a result (default: inventory's)."""
        key = idempotency_key(info)
        if not key:
            raise GraphQLError(
                f"The @idempotent directive with a key is required for {name}.",
                extensions={"code": "BAD_REQUEST"},
            )
        fingerprint = json.dumps(payload, sort_keys=True, default=str)
        with self.store.lock:
            previous = self.store.idempotency.get((name, key))
            if previous is not None:
                if previous[0] != fingerprint:
                    field = ["input"]
                    msg = "The same idempotency key was used with different parameters."
                    return {
                        **(empty or {"inventoryAdjustmentGroup": None}),
                        "userErrors": [_error(field, msg, "IDEMPOTENCY_KEY_PARAMETER_MISMATCH")],
                    }
                return previous[1]
            self.store.current_idempotency_key = key  # what inventory_writes records the write under
            try:
                result = run()
            finally:
                self.store.current_idempotency_key = None
            self.store.idempotency[(name, key)] = (fingerprint, result)
            return result

    # ----- inventory ------------------------------------------------------------------------
    def _resolve_target(
        self, item_ref: str, loc_ref: str, path: list[str], errors: list[Any], codes: dict
    ) -> Any:
        item = self.store.items.get(parse_gid(item_ref, "InventoryItem") or -1)
        loc = self.store.locations.get(parse_gid(loc_ref, "Location") or -1)
        if item is None:
            errors.append(
                _error(
                    [*path, "inventoryItemId"],
                    "The specified inventory item could not be found.",
                    "INVALID_INVENTORY_ITEM",
                )
            )
            return None
        if loc is None:
            errors.append(
                _error(
                    [*path, "locationId"], "The specified location could not be found.", "INVALID_LOCATION"
                )
            )
            return None
        if self.store.variants[item.variant_id].requires_components:
            errors.append(
                _error(
                    [*path, "inventoryItemId"],
                    "The quantity can't be changed for a bundle or other non-mutable item.",
                    "NON_MUTABLE_INVENTORY_ITEM",
                )
            )
            return None
        return item, loc

    def inventorySetQuantities(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        return self._idempotent(info, "inventorySetQuantities", input, lambda: self._set(input))

    def _set(self, data: dict[str, Any]) -> dict[str, Any]:
        name, reason, rows = data["name"], data["reason"], data["quantities"]
        errors: list[dict[str, Any]] = []
        if name not in ("available", "on_hand"):
            errors.append(
                _error(["input", "name"], "The quantity name must be available or on_hand.", "INVALID_NAME")
            )
        if reason not in REASONS:
            errors.append(_error(["input", "reason"], "The specified reason is invalid.", "INVALID_REASON"))
        planned, seen = [], set()
        for i, row in enumerate(rows):
            path = ["input", "quantities", str(i)]
            target = self._resolve_target(row["inventoryItemId"], row["locationId"], path, errors, {})
            if target is None:
                continue
            item, loc = target
            if (item.id, loc.id) in seen:
                errors.append(
                    _error(
                        path,
                        "The combination of inventoryItemId and locationId must be unique.",
                        "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                    )
                )
                continue
            seen.add((item.id, loc.id))
            if "changeFromQuantity" not in row:
                errors.append(
                    _error(
                        [*path, "changeFromQuantity"],
                        "changeFromQuantity is required; send null to skip the check.",
                        "COMPARE_QUANTITY_REQUIRED",
                    )
                )
                continue
            if row["quantity"] < 0:
                errors.append(
                    _error(
                        [*path, "quantity"], "The quantity can't be negative.", "INVALID_QUANTITY_NEGATIVE"
                    )
                )
                continue
            level = self.store.level(item.id, loc.id, create=True)
            assert level is not None
            current = level.get(name)
            expected = row["changeFromQuantity"]
            if expected is not None and expected != current:
                errors.append(
                    _error(
                        [*path, "changeFromQuantity"],
                        "The specified compare quantity does not match the current quantity.",
                        "CHANGE_FROM_QUANTITY_STALE",
                    )
                )
                continue
            planned.append((item, loc, level, row["quantity"] - current))
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        return self._apply(name, reason, data.get("referenceDocumentUri"), planned, None)

    def inventoryAdjustQuantities(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        return self._idempotent(info, "inventoryAdjustQuantities", input, lambda: self._adjust(input))

    def _adjust(self, data: dict[str, Any]) -> dict[str, Any]:
        name, reason, rows = data["name"], data["reason"], data["changes"]
        errors: list[dict[str, Any]] = []
        if name not in QUANTITY_NAMES or name in ("on_hand", "committed"):
            errors.append(
                _error(
                    ["input", "name"],
                    f"The quantity name {name} cannot be adjusted.",
                    "INVALID_QUANTITY_NAME",
                )
            )
        if reason not in REASONS:
            errors.append(_error(["input", "reason"], "The specified reason is invalid.", "INVALID_REASON"))
        planned = []
        for i, row in enumerate(rows):
            path = ["input", "changes", str(i)]
            ledger = row.get("ledgerDocumentUri")
            if name == "available" and ledger:
                errors.append(
                    _error(
                        [*path, "ledgerDocumentUri"],
                        "A ledger document is not allowed for available.",
                        "INVALID_AVAILABLE_DOCUMENT",
                    )
                )
                continue
            if name != "available" and not ledger:
                errors.append(
                    _error(
                        [*path, "ledgerDocumentUri"],
                        "A ledger document is required.",
                        "INVALID_LEDGER_DOCUMENT",
                    )
                )
                continue
            target = self._resolve_target(row["inventoryItemId"], row["locationId"], path, errors, {})
            if target is None:
                continue
            item, loc = target
            if "changeFromQuantity" not in row:
                errors.append(
                    _error(
                        [*path, "changeFromQuantity"],
                        "changeFromQuantity is required; send null to skip the check.",
                    )
                )
                continue
            level = self.store.level(item.id, loc.id, create=True)
            assert level is not None
            expected = row["changeFromQuantity"]
            if expected is not None and expected != level.get(name):
                errors.append(
                    _error(
                        [*path, "changeFromQuantity"],
                        "The specified compare quantity does not match the current quantity.",
                        "CHANGE_FROM_QUANTITY_STALE",
                    )
                )
                continue
            planned.append((item, loc, level, row["delta"], ledger))
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        rows4 = [(i, lc, lv, d) for i, lc, lv, d, _ in planned]
        ledgers = [lg for *_, lg in planned]
        return self._apply(name, reason, data.get("referenceDocumentUri"), rows4, ledgers)

    def _apply(
        self, name: str, reason: str, ref: str | None, planned: list[Any], ledgers: list[Any] | None
    ) -> Any:
        now = datetime.now(UTC)
        changes = []
        for index, (item, loc, level, delta) in enumerate(planned):
            # on_hand is derived; setting it moves available by the same delta.
            stored = "available" if name == "on_hand" else name
            level.quantities[stored] = level.get(stored) + delta
            level.updated_at = now
            names = [name] + (["on_hand"] if name != "on_hand" and name != "committed" else ["available"])
            for n in names:
                if n != name and delta == 0:
                    continue
                changes.append({
                    "name": n,
                    "delta": delta,
                    "quantityAfterChange": level.get(n),
                    "item": ItemView(self.store, item),
                    "location": LocationView(self.store, loc),
                    "ledgerDocumentUri": ledgers[index] if ledgers and n == name else None,
                    "_keys": (gid("InventoryItem", item.id), gid("Location", loc.id), n),
                })  # fmt: skip
            if delta:
                self.store.emit("INVENTORY_LEVELS_UPDATE", {"level": (item.id, loc.id)})
        moved = sum(1 for *_, delta in planned if delta)
        if moved:
            self.store.inventory_writes.append({"key": self.store.current_idempotency_key, "reference": ref,
                                                "name": name, "rows": moved, "at": iso(now)})  # fmt: skip
        group_id = self.store.ids.next()

        def changes_field(
            info: Any, inventoryItemIds: Any = None, locationIds: Any = None, quantityNames: Any = None
        ):
            return [
                c for c in changes
                if (not inventoryItemIds or c["_keys"][0] in inventoryItemIds)
                and (not locationIds or c["_keys"][1] in locationIds)
                and (not quantityNames or c["_keys"][2] in quantityNames)
            ]  # fmt: skip

        group = {
            "typename": "InventoryAdjustmentGroup",
            "id": gid("InventoryAdjustmentGroup", group_id),
            "createdAt": iso(now),
            "reason": reason,
            "referenceDocumentUri": ref,
            "changes": changes_field,
        }
        return {"inventoryAdjustmentGroup": group, "userErrors": []}

    # ----- fulfilment -----------------------------------------------------------------------
    def fulfillmentCreate(self, info: Any, fulfillment: dict[str, Any], message: str | None = None) -> Any:
        with self.store.lock:
            errors, plan = self._plan_fulfillment(fulfillment)
            if errors:
                return {"fulfillment": None, "userErrors": errors}
            tracking, terr = _tracking(fulfillment.get("trackingInfo"))
            if terr:
                return {"fulfillment": None, "userErrors": terr}
            return {
                "fulfillment": self._fulfil(plan, tracking, bool(fulfillment.get("notifyCustomer"))),
                "userErrors": [],
            }

    def _plan_fulfillment(self, data: dict[str, Any]) -> tuple[list[Any], list[Any]]:
        groups = data["lineItemsByFulfillmentOrder"]
        base = ["fulfillment", "lineItemsByFulfillmentOrder"]
        if not groups:
            return [_error(base, "At least one fulfillment order is required.")], []
        plan, orders, locations = [], set(), set()
        for gi, group in enumerate(groups):
            fo = self.store.fulfillment_orders.get(
                parse_gid(group["fulfillmentOrderId"], "FulfillmentOrder") or -1
            )
            path = [*base, str(gi), "fulfillmentOrderId"]
            if fo is None:
                return [_error(path, "Fulfillment order does not exist.")], []
            if fo.status not in ("OPEN", "IN_PROGRESS"):
                return [
                    _error(
                        path,
                        f"Fulfillment order {gid('FulfillmentOrder', fo.id)} has an unfulfillable "
                        f"status= {fo.status.lower()}.",
                    )
                ], []
            orders.add(fo.order_id)
            locations.add(fo.location_id)
            wanted = group.get("fulfillmentOrderLineItems")
            if wanted is None:
                plan.extend((fo, fol, fol.remaining_quantity) for fol in fo.lines if fol.remaining_quantity)
                continue
            for li_index, item in enumerate(wanted):
                fol = next(
                    (x for x in fo.lines if x.id == parse_gid(item["id"], "FulfillmentOrderLineItem")), None
                )
                lpath = [*base, str(gi), "fulfillmentOrderLineItems", str(li_index)]
                if fol is None:
                    return [_error([*lpath, "id"], "Fulfillment order line item does not exist.")], []
                if item["quantity"] < 1 or item["quantity"] > fol.remaining_quantity:
                    return [
                        _error(
                            [*lpath, "quantity"], "Invalid fulfillment order line item quantity requested."
                        )
                    ], []
                plan.append((fo, fol, item["quantity"]))
        if len(orders) > 1 or len(locations) > 1:
            return [_error(base, "All fulfillment orders must belong to the same order and location.")], []
        if not plan:
            return [_error(base, "There is nothing left to fulfill on these fulfillment orders.")], []
        return [], plan

    def _fulfil(self, plan: list[Any], tracking: list[dict[str, Any]], notify: bool) -> FulfillmentView:
        store = self.store
        order = store.orders[plan[0][0].order_id]
        now = datetime.now(UTC)
        rows = []
        for fo, fol, qty in plan:
            line = next(li for li in order.line_items if li.id == fol.line_item_id)
            fol.remaining_quantity -= qty
            line.fulfilled_quantity += qty
            store.move_stock(line, fo.location_id, -qty, 0)
            rows.append((store.ids.next(), line.id, qty))
        for fo in {p[0].id: p[0] for p in plan}.values():
            fo.status = "CLOSED" if all(x.remaining_quantity == 0 for x in fo.lines) else "IN_PROGRESS"
            fo.updated_at = now
        record = Fulfillment(
            store.ids.next(),
            order.id,
            f"{order.name}.{len(order.fulfillment_ids) + 1}",
            now,
            tracking,
            rows,
            notify,
            updated_at=now,
            location_id=plan[0][0].location_id,
        )
        store.fulfillments[record.id] = record
        order.fulfillment_ids.append(record.id)
        store._touch(order)
        store._event(order, "fulfilled", fulfillment=gid("Fulfillment", record.id))
        if notify:
            store.email(order, record.id, "shipping_confirmation", tracking)
        store.emit("FULFILLMENTS_CREATE", {"order": order.id, "fulfillment": record.id})
        status = order.fulfillment_status()
        store.emit(
            "ORDERS_FULFILLED" if status == "FULFILLED" else "ORDERS_PARTIALLY_FULFILLED", {"order": order.id}
        )
        store.emit("ORDERS_UPDATED", {"order": order.id})
        return FulfillmentView(store, record)

    def fulfillmentTrackingInfoUpdate(
        self,
        info: Any,
        fulfillmentId: str,
        trackingInfoInput: dict[str, Any],
        notifyCustomer: bool | None = None,
    ) -> Any:
        store = self.store
        with store.lock:
            record = store.fulfillments.get(parse_gid(fulfillmentId, "Fulfillment") or -1)
            if record is None:
                return {
                    "fulfillment": None,
                    "userErrors": [_error(["fulfillmentId"], "Fulfillment does not exist.")],
                }
            tracking, errors = _tracking(trackingInfoInput, base=["trackingInfoInput"])
            refused = set(info.context["config"].faults.refuse_tracking_numbers)
            if not errors and refused & {t["number"] for t in tracking}:
                errors = [_error(["trackingInfoInput", "numbers"], "Tracking number is invalid.")]
            if errors:
                return {"fulfillment": None, "userErrors": errors}
            order = store.orders[record.order_id]
            record.tracking = tracking
            record.updated_at = datetime.now(UTC)
            store._touch(order)
            store._event(order, "tracking_updated", fulfillment=gid("Fulfillment", record.id))
            if notifyCustomer:
                store.email(order, record.id, "shipping_update", tracking)
            store.emit("FULFILLMENTS_UPDATE", {"order": order.id, "fulfillment": record.id})
            return {"fulfillment": FulfillmentView(store, record), "userErrors": []}

    # ----- cancellation ---------------------------------------------------------------------
    def orderCancel(self, info: Any, orderId: str, reason: str, restock: bool, **_: Any) -> dict[str, Any]:
        store = self.store
        with store.lock:
            order = store.orders.get(parse_gid(orderId, "Order") or -1)
            if order is None:
                err = _error(["orderId"], "Order does not exist.", "NOT_FOUND")
                return {"job": None, "jobResult": None, "orderCancelUserErrors": [err], "userErrors": [err]}
            problem = None
            if order.cancelled_at is not None:
                problem = "Order has already been cancelled."
            elif any(li.fulfilled_quantity for li in order.line_items):
                problem = "Cannot cancel an order with fulfillments; cancel the fulfillments first."
            if problem:
                err = _error(["orderId"], problem, "INVALID")
                return {"job": None, "jobResult": None, "orderCancelUserErrors": [err], "userErrors": [err]}
            job_id = store.ids.next()
            job: dict[str, Any] = {"done": False, "status": "STARTED", "errors": []}
            store.jobs[job_id] = job

        def run() -> None:
            try:
                store.cancel_order(gid("Order", order.id), reason, restock)
                job["status"] = "SUCCEEDED"
            except StoreError as exc:
                job["status"] = "FAILED"
                job["errors"] = [_error(["orderId"], str(exc), "INVALID")]
            job["done"] = True

        timer = threading.Timer(CANCEL_DELAY_SECONDS, run)
        timer.daemon = True
        timer.start()
        job_gid = gid("Job", job_id)
        return {
            "job": {"id": job_gid, "done": False},
            "jobResult": {
                "typename": "OrderCancelJobResult",
                "id": job_gid,
                "done": False,
                "status": "STARTED",
                "errors": [],
                "order": OrderView(store, order),
            },
            "orderCancelUserErrors": [],
            "userErrors": [],
        }

    # ----- webhooks -------------------------------------------------------------------------
    def webhookSubscriptionCreate(self, info: Any, topic: str, webhookSubscription: dict[str, Any]) -> Any:
        uri = webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl")
        field = ["webhookSubscription", "uri"]
        if not uri or not str(uri).startswith(("http://", "https://")):
            return {"webhookSubscription": None, "userErrors": [_error(field, "Address is invalid")]}
        try:
            sub = self.store_subscribe(topic, str(uri), webhookSubscription)
        except StoreError as exc:
            return {"webhookSubscription": None, "userErrors": [_error(field, str(exc))]}
        return {"webhookSubscription": WebhookView(self.store, sub), "userErrors": []}

    def store_subscribe(self, topic: str, uri: str, options: dict[str, Any] | None = None) -> Any:
        from .webhooks import subscribe

        return subscribe(self.store, topic, uri, options or {})


def _tracking(
    info: dict[str, Any] | None, base: list[str] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not info:
        return [], []
    base = base or ["fulfillment", "trackingInfo"]
    if info.get("number") and info.get("numbers"):
        return [], [_error(base, "Specify number or numbers, not both.")]
    if info.get("url") and info.get("urls"):
        return [], [_error(base, "Specify url or urls, not both.")]
    numbers = info.get("numbers") or ([info["number"]] if info.get("number") else [])
    urls = info.get("urls") or ([info["url"]] if info.get("url") else [])
    company = info.get("company")
    return [
        {"company": company, "number": n, "url": urls[i] if i < len(urls) else None}
        for i, n in enumerate(numbers)
    ] or [{"company": company, "number": None, "url": urls[0] if urls else None}], []
