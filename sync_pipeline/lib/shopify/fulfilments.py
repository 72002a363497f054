"""Fulfilment operations of `ShopifyClient`: read fulfilment orders, move them, fulfil, read back,
add tracking.

`fulfillmentCreate` is not idempotent at Shopify (it takes no `@idempotent` key), so a caller that
loses the answer must read the order's fulfilments (`get_order_fulfillments`) before sending again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import documents as docs
from .executes import Executes
from .models import Fulfillment, FulfillmentOrder, OrderFulfillment, OrderFulfilmentState, TrackingInfo

# Requested cost of one fulfilment order node: itself 1, supportedActions 1, assignedLocation 1 +
# location 1, lineItems connection 2, and per line item 2 (itself, lineItem).
FO_NODE_BASE = 6
FO_LINE_NODE = 2
# One fulfilment read back: itself 1, trackingInfo 1, fulfillmentLineItems 2, per line 2.
FULFILLMENT_NODE_BASE = 4
# Shopify's cap on every input array.
MAX_INPUT = 250
# An order's fulfilments read at most (`Order.fulfillments` is a plain list: no pages past it).
MAX_FULFILLMENTS = 250


class FulfilmentsApi:
    def get_fulfillment_orders(self: Executes, order_id: str, line_items: int = 50) -> list[FulfillmentOrder]:
        """Every fulfilment order of the order with every line item, page after page. (Until
        2026-12-01 one page: an order with more fulfilment orders than fit, 4 at 100 lines, was read
        without the rest, and the despatches flow took the missing lines for an edit it had not
        read, so its packages waited for good.)"""
        first = max(1, min(250, (self.max_query_cost - 3) // (FO_NODE_BASE + FO_LINE_NODE * line_items)))
        found: list[FulfillmentOrder] = []
        after: str | None = None
        while True:
            data = self.execute(
                "FulfillmentOrders",
                docs.FULFILLMENT_ORDERS,
                {"id": order_id, "first": first, "lineItems": line_items, "after": after},
            )
            order = data.get("order")
            if order is None:
                return found
            page = order["fulfillmentOrders"]
            for node in page["nodes"]:
                lines = node.get("lineItems") or {}
                info = lines.get("pageInfo") or {}
                if info.get("hasNextPage"):
                    rest = FulfilmentsApi._more_lines(self, node["id"], info.get("endCursor"))
                    node = {**node, "lineItems": {"nodes": [*(lines.get("nodes") or []), *rest]}}
                found.append(FulfillmentOrder.model_validate(node))
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return found
            after = info.get("endCursor")

    def _more_lines(self: Executes, fulfillment_order_id: str, after: str | None) -> list[dict[str, Any]]:
        """A fulfilment order's line items after `after`, every page."""
        first = max(1, min(250, (self.max_query_cost - 3) // FO_LINE_NODE - 1))
        nodes: list[dict[str, Any]] = []
        while True:
            data = self.execute(
                "FulfillmentOrderLines",
                docs.FULFILLMENT_ORDER_LINES,
                {"id": fulfillment_order_id, "first": first, "after": after},
            )
            page = (data.get("fulfillmentOrder") or {}).get("lineItems") or {}
            nodes.extend(page.get("nodes") or [])
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return nodes
            after = info.get("endCursor")

    def get_orders_fulfilment_state(
        self: Executes,
        order_ids: Sequence[str],
        fulfillment_orders: int = 2,
        line_items: int = 10,
        retry_until: float | None = None,
    ) -> dict[str, OrderFulfilmentState]:
        """Each order's fulfilment orders (unknown ids left out), many orders per request.
        `retry_until` (`time.monotonic()`): no retry of a throttled request starts after it
        (`ShopifyRetriesExhausted` instead).

        Pages are sized for the common order (one or two fulfilment orders, a few lines); an order
        with more is read again on its own with `get_fulfillment_orders`, so nothing is cut off.
        """
        per_order = 3 + fulfillment_orders * (FO_NODE_BASE + FO_LINE_NODE * line_items)
        chunk = max(1, min(250, self.max_query_cost // per_order))
        found: dict[str, OrderFulfilmentState] = {}
        for start in range(0, len(order_ids), chunk):
            ids = list(order_ids[start : start + chunk])
            variables = {"ids": ids, "first": fulfillment_orders, "lineItems": line_items}
            data = self.execute(
                "OrdersFulfilmentState",
                docs.ORDERS_FULFILMENT_STATE,
                variables,
                cost_hint=len(ids) * per_order,
                retry_until=retry_until,
            )
            for node in data["nodes"]:
                if not node or not node.get("id"):
                    continue
                state = OrderFulfilmentState.model_validate(node)
                if state.fulfillment_orders_truncated:
                    whole = FulfilmentsApi.get_fulfillment_orders(self, state.id, line_items=100)  # type: ignore[arg-type]
                    state = state.model_copy(
                        update={"fulfillment_orders": whole, "fulfillment_orders_truncated": False}
                    )
                found[state.id] = state
        return found

    def get_order_fulfillments(
        self: Executes, order_id: str, first: int = 20, line_items: int = 20
    ) -> list[OrderFulfillment]:
        """The order's fulfilments with all their line items, oldest first.

        One request holds `first` fulfilments of `line_items` lines (the common order). When it is
        full, or a fulfilment has more lines, the order's fulfilment ids are read (up to
        `MAX_FULFILLMENTS`) and each one not read whole is read on its own, page after page. (Until
        2026-12-01 the first page was all: the in-doubt lookup missed a lost fulfilment of an order's
        21st package, or of a package of 21 lines, and sent it again: a second shipping email.)"""
        data = self.execute(
            "OrderFulfillments",
            docs.ORDER_FULFILLMENTS,
            {"id": order_id, "first": first, "lineItems": line_items},
        )
        order = data.get("order")
        if order is None:
            return []
        nodes = order["fulfillments"]
        whole = {
            n["id"]: n
            for n in nodes
            if not ((n.get("fulfillmentLineItems") or {}).get("pageInfo") or {}).get("hasNextPage")
        }
        if len(nodes) < first and len(whole) == len(nodes):
            return [OrderFulfillment.model_validate(n) for n in nodes]
        ids = self.execute(
            "OrderFulfillmentIds", docs.ORDER_FULFILLMENT_IDS, {"id": order_id, "first": MAX_FULFILLMENTS}
        )
        refs = (ids.get("order") or {}).get("fulfillments") or []
        return [
            OrderFulfillment.model_validate(whole.get(r["id"]) or FulfilmentsApi._whole(self, r["id"]))
            for r in refs
        ]

    def _whole(self: Executes, fulfillment_id: str) -> dict[str, Any]:
        """One fulfilment with every line item (its line item pages joined)."""
        lines: list[dict[str, Any]] = []
        after: str | None = None
        first = max(1, min(250, (self.max_query_cost - FULFILLMENT_NODE_BASE) // 2))
        while True:
            node = self.execute(
                "FulfillmentWhole",
                docs.FULFILLMENT_WHOLE,
                {"id": fulfillment_id, "lineItems": first, "after": after},
            )["node"]
            page = node.get("fulfillmentLineItems") or {}
            lines.extend(page.get("nodes") or [])
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return {**node, "fulfillmentLineItems": {"nodes": lines}}
            after = info.get("endCursor")

    def move_fulfillment_order(
        self: Executes,
        fulfillment_order_id: str,
        new_location_id: str,
        line_items: Mapping[str, int] | None = None,
    ) -> FulfillmentOrder:
        """Assign FO line items (`{fo_line_item_id: quantity}`; None = all unfulfilled) to another
        location; returns the fulfilment order that holds them there (new ids after a partial move).

        Not retried: a move that did happen would be refused the second time, which reads as a
        refusal. After `ShopifyOutcomeUnknown`, read the fulfilment orders before moving again.
        """
        if line_items is not None and len(line_items) > MAX_INPUT:
            raise ValueError(
                f"fulfillmentOrderMove takes at most {MAX_INPUT} line items; got {len(line_items)}"
            )
        variables: dict[str, Any] = {"id": fulfillment_order_id, "newLocationId": new_location_id}
        if line_items is not None:
            variables["lineItems"] = [{"id": k, "quantity": q} for k, q in line_items.items()]
        payload = self.execute(
            "FulfillmentOrderMove", docs.FULFILLMENT_ORDER_MOVE, variables, safe_to_retry=False
        )["fulfillmentOrderMove"]
        self._user_errors("FulfillmentOrderMove", payload)
        return FulfillmentOrder.model_validate(payload["movedFulfillmentOrder"])

    def create_fulfillment(
        self: Executes,
        line_items_by_fulfillment_order: Mapping[str, Mapping[str, int] | None],
        *,
        tracking: TrackingInfo | None = None,
        notify_customer: bool = False,
        retry_until: float | None = None,
    ) -> Fulfillment:
        """Fulfil the given FO line items (`{fo_id: {fo_line_item_id: quantity}}`; None = all remaining).

        Not idempotent at Shopify: after `ShopifyOutcomeUnknown`, read the order's fulfilments
        before sending again. `retry_until` (`time.monotonic()`): no retry (of a 429 or THROTTLED,
        which Shopify did not run) starts after it; `ShopifyRetriesExhausted` instead.
        """
        # Shopify refuses any input array over 250 items (MAX_INPUT_SIZE_EXCEEDED). Splitting would
        # send several shipping emails for one parcel, so that decision is the caller's.
        too_long = [
            fo for fo, lines in line_items_by_fulfillment_order.items() if len(lines or ()) > MAX_INPUT
        ]
        if len(line_items_by_fulfillment_order) > MAX_INPUT or too_long:
            raise ValueError(
                f"fulfillmentCreate takes at most {MAX_INPUT} fulfilment orders and {MAX_INPUT} line items "
                f"per fulfilment order; got {len(line_items_by_fulfillment_order)} orders"
                + (f", too many lines on {too_long}" if too_long else "")
            )
        groups = []
        for fo_id, lines in line_items_by_fulfillment_order.items():
            group: dict[str, Any] = {"fulfillmentOrderId": fo_id}
            if lines is not None:
                group["fulfillmentOrderLineItems"] = [{"id": k, "quantity": q} for k, q in lines.items()]
            groups.append(group)
        fulfillment: dict[str, Any] = {
            "lineItemsByFulfillmentOrder": groups,
            "notifyCustomer": notify_customer,
        }
        if tracking is not None:
            fulfillment["trackingInfo"] = tracking.model_dump(exclude_none=True)
        payload = self.execute(
            "FulfillmentCreate",
            docs.FULFILLMENT_CREATE,
            {"fulfillment": fulfillment},
            safe_to_retry=False,
            retry_until=retry_until,
        )["fulfillmentCreate"]
        self._user_errors("FulfillmentCreate", payload)
        return Fulfillment.model_validate(payload["fulfillment"])

    def update_fulfillment_tracking(
        self: Executes, fulfillment_id: str, tracking: TrackingInfo, *, notify_customer: bool = False
    ) -> Fulfillment:
        """Replace a fulfilment's tracking (safe to repeat: the same input sets the same values)."""
        variables = {
            "fulfillmentId": fulfillment_id,
            "trackingInfoInput": tracking.model_dump(exclude_none=True),
            "notifyCustomer": notify_customer,
        }
        # Retried only when it cannot send a second email.
        payload = self.execute(
            "FulfillmentTrackingInfoUpdate",
            docs.FULFILLMENT_TRACKING_INFO_UPDATE,
            variables,
            safe_to_retry=not notify_customer,
        )["fulfillmentTrackingInfoUpdate"]
        self._user_errors("FulfillmentTrackingInfoUpdate", payload)
        return Fulfillment.model_validate(payload["fulfillment"])
