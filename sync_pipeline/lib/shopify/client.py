"""`ShopifyClient`: the Admin GraphQL operations the flows use, with typed results.

Pages are sized from the documented cost model so that no query asks for more than the
1,000-point ceiling (`_fit`); if Shopify still answers MAX_COST_EXCEEDED the page is halved and
the request repeated. Inventory writes go in chunks of 250 (Shopify's input-array cap), each
with `changeFromQuantity` on every row and its own `@idempotent` key.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from . import documents as docs
from .bulk import BulkApi, Count
from .bulk_money import BulkMoneyApi
from .errors import ShopifyQueryError, ShopifyUserErrors, UserError
from .executes import fit as _fit
from .finance import FinanceApi
from .fulfilments import FulfilmentsApi
from .models import (
    CancelJob,
    InventoryAdjustmentGroup,
    InventoryLevel,
    LineItem,
    Location,
    Order,
    OrderChange,
    OrderDeliveryRef,
    ProductVariant,
    StockDelta,
    StockWrite,
    WebhookSubscription,
)
from .pacing import CostPacer
from .transport import GraphQLTransport, TransportStats

MAX_PAGE = 250
MAX_INPUT = 250
# Requested cost of one node of each document under Shopify's rules (objects 1, connections
# 2 + first x node, scalars 0); see the fragments in documents.py.
LINE_ITEM_NODE = 6  # item 1, originalUnitPriceSet 1 + shopMoney 1, variant 1 + inventoryItem 1, group 1
# order 1, customAttributes 1, shippingAddress 1, shippingLine 1, totalPriceSet 2, customer 1, lineItems 2,
# purchasingEntity 1 + company 1 + location 1
ORDER_NODE_BASE = 12
ORDER_DELIVERY_NODE = 4  # order 1, customAttributes 1, shippingAddress 1, shippingLine 1
VARIANT_NODE_BASE = 5  # variant 1, inventoryItem 1, product 1, components connection 2
INVENTORY_NODE = 3  # item 1, inventoryLevel 1, quantities 1 per name


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def orders_search(since: datetime, until: datetime | None = None, extra: str | None = None) -> str:
    """Orders updated at or after `since` (and before `until`), AND `extra`; dates quoted."""
    terms = [f"updated_at:>='{_iso(since)}'"]
    if until is not None:
        terms.append(f"updated_at:<'{_iso(until)}'")
    if extra:
        terms.append(extra)
    return " AND ".join(terms)


class ShopifyClient(FulfilmentsApi, FinanceApi, BulkApi, BulkMoneyApi):
    def __init__(
        self,
        shop_url: str,
        access_token: str,
        api_version: str = "2026-10",
        *,
        timeout: float = 30.0,
        max_attempts: int = 8,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        line_items_per_order: int = 10,
        components_per_variant: int = 10,
        max_query_cost: int = 1000,
        bulk_threshold: int = 0,
        http: httpx.Client | None = None,
        reserve_share: float = 0.0,
    ) -> None:
        """`reserve_share` > 0 makes this a background client: it leaves that share of Shopify's
        cost bucket to the app's other clients (ingest, fulfilments, stock pushes; pacing.py)."""
        base = shop_url.rstrip("/")
        if "://" not in base:
            base = f"https://{base}"
        self.api_version = api_version
        self.endpoint = f"{base}/admin/api/{api_version}/graphql.json"
        self.transport = GraphQLTransport(
            self.endpoint,
            access_token,
            timeout=timeout,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            http=http,
            pacer=CostPacer(reserve_share=reserve_share),
        )
        self.line_items_per_order = line_items_per_order
        self.components_per_variant = components_per_variant
        self.max_query_cost = max_query_cost
        # Reads of at least this many objects go through a bulk operation (bulk.py) instead of
        # pages: off the query-cost bucket, so a backfill does not compete with live traffic. Below
        # it, the bulk operation's fixed latency (start, poll, download) costs more than the pages
        # would. 0 (the default here) never uses one; the product passes SHOPIFY_BULK_THRESHOLD.
        self.bulk_threshold = bulk_threshold
        self.last_read_mode = "paginated"  # how the last size-dependent read went: "paginated" or "bulk"

    # ----- plumbing -------------------------------------------------------------------------
    @property
    def stats(self) -> TransportStats:
        return self.transport.stats

    def close(self) -> None:
        self.transport.close()

    def yield_for(self, seconds: float) -> None:
        """A background client stops leaving the bucket to the others `seconds` from now (its
        caller's time budget), so it is never held back for ever; pacing goes on as for any client."""
        self.transport.pacer.yield_until = time.monotonic() + seconds

    @property
    def yielded_seconds(self) -> float:
        """How long a background client has waited for the others to leave it room."""
        return self.transport.pacer.yielded_seconds

    def __enter__(self) -> ShopifyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(
        self,
        operation: str,
        document: str,
        variables: dict[str, Any],
        safe_to_retry: bool = True,
        cost_hint: float = 0.0,
        retry_until: float | None = None,
    ) -> Any:
        """Run any document; returns `data`. The typed methods below are built on this.

        `cost_hint` is the expected requested cost, used for pacing until Shopify has told us
        the real figure for this operation shape, so the first call of a shape does not run
        into an empty bucket. `retry_until` (`time.monotonic()`): no retry starts after it
        (`GraphQLTransport.execute`).
        """
        shape = (operation, *sorted((k, v if isinstance(v, int) else len(v)) for k, v in variables.items()
                                    if isinstance(v, int | list)))  # fmt: skip
        return self.transport.execute(
            operation,
            document,
            variables,
            shape=shape,
            safe_to_retry=safe_to_retry,
            cost_hint=cost_hint,
            retry_until=retry_until,
        )

    def _paged(
        self,
        operation: str,
        document: str,
        variables: dict[str, Any],
        path: str,
        first: int,
        per_node: int = 1,
    ) -> Iterator[Any]:
        """Yield nodes of the connection at `path` (dotted, e.g. "location.inventoryLevels"),
        halving the page on MAX_COST_EXCEEDED. A null object on the way (an unknown id) raises
        `ShopifyQueryError` naming it."""
        keys = path.split(".")
        after: str | None = None
        while True:
            try:
                data = self.execute(
                    operation,
                    document,
                    {**variables, "first": first, "after": after},
                    cost_hint=len(keys) + 1 + first * per_node,  # each object on the path 1, connection 2
                )
            except ShopifyQueryError as exc:
                if "MAX_COST_EXCEEDED" in exc.codes and first > 1:
                    first //= 2
                    continue
                raise
            page = data
            for key in keys:
                page = page.get(key)
                if page is None:
                    wanted = f" {variables['id']}" if "id" in variables else ""
                    raise ShopifyQueryError(operation, f"{key}{wanted} not found")
            yield from page["nodes"]
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]

    @staticmethod
    def _user_errors(operation: str, payload: dict[str, Any], key: str = "userErrors") -> None:
        errors = payload.get(key) or []
        if errors:
            raise ShopifyUserErrors(operation, [UserError.model_validate(e) for e in errors])

    # ----- shop and catalogue ---------------------------------------------------------------
    def shop(self) -> dict[str, Any]:
        return dict(self.execute("Shop", docs.SHOP, {})["shop"])

    def list_locations(self) -> list[Location]:
        nodes = self._paged("Locations", docs.LOCATIONS, {}, "locations", MAX_PAGE)
        return [Location.model_validate(n) for n in nodes]

    def _use_bulk(self, count: Callable[[int], Count]) -> bool:
        """Whether a read of `count` (a `Count` asked with limit = threshold) is large enough for bulk."""
        bulk = self.bulk_threshold > 0 and count(self.bulk_threshold).count >= self.bulk_threshold
        self.last_read_mode = "bulk" if bulk else "paginated"
        return bulk

    def iter_product_variants(self, query: str | None = None) -> Iterator[ProductVariant]:
        """Every variant matching `query`; a bulk operation from `bulk_threshold` variants on."""
        if self._use_bulk(lambda limit: self.count_product_variants(query, limit=limit)):
            yield from self.iter_bulk_product_variants(query)
            return
        components = self.components_per_variant
        per_node = VARIANT_NODE_BASE + components * 2
        variables = {"query": query, "components": components}
        for node in self._paged(
            "ProductVariants",
            docs.PRODUCT_VARIANTS,
            variables,
            "productVariants",
            _fit(per_node, self.max_query_cost),
            per_node,
        ):
            yield ProductVariant.model_validate(node)

    # ----- orders ---------------------------------------------------------------------------
    def _order_node_cost(self) -> int:
        return ORDER_NODE_BASE + LINE_ITEM_NODE * self.line_items_per_order

    def orders_page_size(self) -> int:
        return _fit(self._order_node_cost(), self.max_query_cost)

    def iter_orders_updated_since(
        self, since: datetime, until: datetime | None = None, extra_query: str | None = None
    ) -> Iterator[Order]:
        """Orders with `updatedAt >= since` (and `< until`), oldest change first.

        Shopify's timestamps have whole seconds, so callers should keep their cursor at the
        last `updated_at` seen (inclusive) and dedupe by id and `updated_at`.
        """
        variables = {
            "query": orders_search(since, until, extra_query),
            "lineItems": self.line_items_per_order,
        }
        for node in self._paged("OrdersUpdatedSince", docs.ORDERS_UPDATED_SINCE, variables, "orders",
                                self.orders_page_size(), self._order_node_cost()):  # fmt: skip
            yield self._complete(Order.model_validate(node))

    def iter_orders_created_between(self, start: datetime, end: datetime) -> Iterator[Order]:
        """Orders created in [start, end), every line item: a backfill window.

        From `bulk_threshold` orders on it is one bulk operation, off the query-cost bucket;
        smaller windows are read in pages. Same `Order` models either way.
        """
        window = f"created_at:>='{_iso(start)}' AND created_at:<'{_iso(end)}'"
        search = orders_search(start, None, window)  # every order created in it was updated since
        if self._use_bulk(lambda limit: self.count_orders(search, limit=limit)):
            yield from self.iter_bulk_orders(search)
        else:
            yield from self.iter_orders_updated_since(start, extra_query=window)

    def iter_order_changes_since(self, since: datetime) -> Iterator[OrderChange]:
        """Orders with `updatedAt >= since`, oldest change first, as versions only (about one point
        each, against a full read's tens): read in full with `get_orders` what really changed."""
        variables = {"query": orders_search(since)}
        for node in self._paged("OrderChangesSince", docs.ORDER_CHANGES_SINCE, variables, "orders", MAX_PAGE):
            yield OrderChange.model_validate(node)

    def get_order(self, order_id: str) -> Order | None:
        data = self.execute(
            "OrderById", docs.ORDER_BY_ID, {"id": order_id, "lineItems": self.line_items_per_order}
        )
        node = data.get("order")
        return self._complete(Order.model_validate(node)) if node else None

    def get_orders(self, order_ids: Sequence[str]) -> list[Order]:
        """Orders by id, in the order asked; ids Shopify does not know are left out."""
        chunk = _fit(self._order_node_cost() + 1, self.max_query_cost, overhead=0)
        found: list[Order] = []
        for start in range(0, len(order_ids), chunk):
            ids = list(order_ids[start : start + chunk])
            data = self.execute(
                "OrdersByIds",
                docs.ORDERS_BY_IDS,
                {"ids": ids, "lineItems": self.line_items_per_order},
                cost_hint=len(ids) * (self._order_node_cost() + 1),
            )
            found.extend(self._complete(Order.model_validate(n)) for n in data["nodes"] if n and n.get("id"))
        return found

    def get_order_versions(self, order_ids: Sequence[str]) -> dict[str, datetime]:
        """`updatedAt` of each order (unknown ids left out): a cheap freshness check."""
        versions: dict[str, datetime] = {}
        for start in range(0, len(order_ids), MAX_PAGE):
            ids = list(order_ids[start : start + MAX_PAGE])
            data = self.execute("OrderVersions", docs.ORDER_VERSIONS, {"ids": ids})
            for node in data["nodes"]:
                if node and node.get("id"):
                    versions[node["id"]] = datetime.fromisoformat(node["updatedAt"].replace("Z", "+00:00"))
        return versions

    def get_order_deliveries(self, order_ids: Sequence[str]) -> list[OrderDeliveryRef]:
        """Each order's `updatedAt` with its address, shipping line and cart attributes (unknown ids
        left out): about four points an order (`docs.ORDER_DELIVERY_VERSIONS`)."""
        found: list[OrderDeliveryRef] = []
        per_query = _fit(ORDER_DELIVERY_NODE, self.max_query_cost)
        for start in range(0, len(order_ids), per_query):
            ids = list(order_ids[start : start + per_query])
            data = self.execute(
                "OrderDeliveryVersions",
                docs.ORDER_DELIVERY_VERSIONS,
                {"ids": ids},
                cost_hint=len(ids) * ORDER_DELIVERY_NODE,
            )
            found.extend(OrderDeliveryRef.model_validate(n) for n in data["nodes"] if n and n.get("id"))
        return found

    def get_order_customer_tags(self, order_ids: Sequence[str]) -> dict[str, tuple[datetime, list[str]]]:
        """Each order's `updatedAt` and its customer's tags (none for a guest; unknown ids left out)."""
        found: dict[str, tuple[datetime, list[str]]] = {}
        per_query = _fit(2, self.max_query_cost)
        for start in range(0, len(order_ids), per_query):
            ids = list(order_ids[start : start + per_query])
            data = self.execute("OrderCustomerTags", docs.ORDER_CUSTOMER_TAGS, {"ids": ids})
            for node in data["nodes"]:
                if node and node.get("id"):
                    version = datetime.fromisoformat(node["updatedAt"].replace("Z", "+00:00"))
                    found[node["id"]] = (version, list((node.get("customer") or {}).get("tags") or []))
        return found

    def _complete(self, order: Order) -> Order:
        """Fetch the rest of an order's line items when the first page did not hold them all."""
        if not order.line_items_truncated:
            return order
        lines = list(order.line_items)
        after = order.line_items_cursor
        per_page = _fit(LINE_ITEM_NODE, self.max_query_cost, overhead=3)
        while after is not None:
            data = self.execute("OrderLineItems", docs.ORDER_LINE_ITEMS, {"id": order.id, "first": per_page,
                                                                         "after": after})  # fmt: skip
            page = data["order"]["lineItems"]
            lines.extend(LineItem.model_validate(n) for n in page["nodes"])
            after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
        return order.model_copy(
            update={"line_items": lines, "line_items_truncated": False, "line_items_cursor": None}
        )

    def cancel_order(
        self,
        order_id: str,
        reason: str = "CUSTOMER",
        restock: bool = True,
        notify_customer: bool = False,
        staff_note: str | None = None,
    ) -> CancelJob:
        """Start Shopify's asynchronous cancellation; poll with `wait_for_job` if you need it done."""
        variables = {"orderId": order_id, "reason": reason, "restock": restock,
                     "notifyCustomer": notify_customer, "staffNote": staff_note}  # fmt: skip
        payload = self.execute("OrderCancel", docs.ORDER_CANCEL, variables, safe_to_retry=False)[
            "orderCancel"
        ]
        self._user_errors("OrderCancel", payload, "orderCancelUserErrors")
        return CancelJob.model_validate(payload["job"])

    def wait_for_job(self, job_id: str, timeout: float = 30.0, poll_seconds: float = 0.2) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            job = self.execute("Job", docs.JOB, {"id": job_id}).get("job")
            if job and job["done"]:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(poll_seconds)

    # ----- inventory ------------------------------------------------------------------------
    def get_inventory_levels(
        self, inventory_item_ids: Sequence[str], location_id: str, names: Sequence[str] = ("available",)
    ) -> dict[str, InventoryLevel]:
        """Named quantities of each item at one location, keyed by inventory item id."""
        chunk = min(MAX_INPUT, _fit(INVENTORY_NODE - 1 + len(names), self.max_query_cost, overhead=0))
        levels: dict[str, InventoryLevel] = {}
        for start in range(0, len(inventory_item_ids), chunk):
            ids = list(inventory_item_ids[start : start + chunk])
            variables = {"ids": ids, "locationId": location_id, "names": list(names)}
            hint = len(ids) * (INVENTORY_NODE - 1 + len(names))
            for node in self.execute("InventoryLevels", docs.INVENTORY_LEVELS, variables, cost_hint=hint)[
                "nodes"
            ]:
                if not node or "id" not in node:
                    continue
                level = node.get("inventoryLevel")
                quantities = {q["name"]: q["quantity"] for q in level["quantities"]} if level else None
                levels[node["id"]] = InventoryLevel(
                    inventory_item_id=node["id"], location_id=location_id, quantities=quantities
                )
        return levels

    def iter_location_levels(
        self,
        location_id: str,
        names: Sequence[str] = ("available",),
        updated_since: datetime | None = None,
    ) -> Iterator[InventoryLevel]:
        """Every level stocked at a location, or only those updated at or after `updated_since`."""
        per_node = 2 + len(names)  # level 1, item 1, quantities 1 per name
        variables = {
            "id": location_id,
            "names": list(names),
            "query": f"updated_at:>='{_iso(updated_since)}'" if updated_since else None,
        }
        for node in self._paged(
            "LocationInventoryLevels",
            docs.LOCATION_INVENTORY_LEVELS,
            variables,
            "location.inventoryLevels",
            _fit(per_node, self.max_query_cost, overhead=3),
            per_node,
        ):
            yield InventoryLevel.model_validate(
                {
                    "inventoryItemId": node["item"]["id"],
                    "locationId": location_id,
                    "quantities": {q["name"]: q["quantity"] for q in node["quantities"]},
                    "updatedAt": node["updatedAt"],
                }
            )

    def set_inventory_quantities(
        self,
        writes: Sequence[StockWrite],
        *,
        name: str = "available",
        reason: str = "correction",
        reference_document_uri: str | None = None,
        idempotency_key: str | None = None,
    ) -> list[InventoryAdjustmentGroup]:
        """Set absolute quantities, compare-and-set on `expected`, 250 per request.

        Pass a deterministic `idempotency_key` (e.g. the sync run id) to make a re-run after a
        crash replay Shopify's first answer instead of writing again; chunk i uses `key:i`.
        Raises `ShopifyUserErrors` (e.g. CHANGE_FROM_QUANTITY_STALE) on the first failing chunk;
        earlier chunks stay applied.
        """
        rows = [
            {"inventoryItemId": w.inventory_item_id, "locationId": w.location_id, "quantity": w.quantity,
             "changeFromQuantity": w.expected}
            for w in writes
        ]  # fmt: skip
        header = {"name": name, "reason": reason, "referenceDocumentUri": reference_document_uri}
        return self._inventory_in_chunks(
            "InventorySetQuantities",
            docs.INVENTORY_SET_QUANTITIES,
            header,
            "quantities",
            rows,
            idempotency_key,
        )

    def adjust_inventory_quantities(
        self,
        deltas: Sequence[StockDelta],
        *,
        name: str = "available",
        reason: str = "correction",
        reference_document_uri: str | None = None,
        idempotency_key: str | None = None,
    ) -> list[InventoryAdjustmentGroup]:
        rows = [
            {"inventoryItemId": d.inventory_item_id, "locationId": d.location_id, "delta": d.delta,
             "changeFromQuantity": d.expected}
            for d in deltas
        ]  # fmt: skip
        header = {"name": name, "reason": reason, "referenceDocumentUri": reference_document_uri}
        return self._inventory_in_chunks(
            "InventoryAdjustQuantities",
            docs.INVENTORY_ADJUST_QUANTITIES,
            header,
            "changes",
            rows,
            idempotency_key,
        )

    def _inventory_in_chunks(
        self,
        operation: str,
        document: str,
        header: dict[str, Any],
        rows_key: str,
        rows: list[dict[str, Any]],
        idempotency_key: str | None,
    ) -> list[InventoryAdjustmentGroup]:
        """One mutation per 250 rows (Shopify's input-array cap); chunk i is idempotent as `key:i`."""
        groups = []
        base_key = idempotency_key or str(uuid.uuid4())
        payload_key = operation[0].lower() + operation[1:]
        for index, start in enumerate(range(0, len(rows), MAX_INPUT)):
            variables = {
                "input": {**header, rows_key: rows[start : start + MAX_INPUT]},
                "key": f"{base_key}:{index}",
            }
            payload = self.execute(operation, document, variables, cost_hint=10)[payload_key]
            self._user_errors(operation, payload)
            if payload.get("inventoryAdjustmentGroup"):
                groups.append(InventoryAdjustmentGroup.model_validate(payload["inventoryAdjustmentGroup"]))
        return groups

    # ----- webhooks -------------------------------------------------------------------------
    def create_webhook_subscription(self, topic: str, uri: str) -> WebhookSubscription:
        payload = self.execute("WebhookSubscriptionCreate", docs.WEBHOOK_SUBSCRIPTION_CREATE,
                               {"topic": topic, "uri": uri}, safe_to_retry=False)["webhookSubscriptionCreate"]  # fmt: skip
        self._user_errors("WebhookSubscriptionCreate", payload)
        return WebhookSubscription.model_validate(payload["webhookSubscription"])

    def list_webhook_subscriptions(self) -> list[WebhookSubscription]:
        nodes = self._paged(
            "WebhookSubscriptions", docs.WEBHOOK_SUBSCRIPTIONS, {}, "webhookSubscriptions", MAX_PAGE
        )
        return [WebhookSubscription.model_validate(n) for n in nodes]
