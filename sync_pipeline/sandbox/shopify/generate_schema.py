"""Derive the subset of the official Shopify Admin schema that the sandbox serves.

Run from the repository root whenever `SERVED` changes or a new API version is added:

    .venv/bin/python -m sync_pipeline.sandbox.shopify.generate_schema ../shared/reference/shopify

It reads the official introspection dumps (`admin_<version>.json.gz`), keeps only the object
fields listed in `SERVED` (plus everything those fields need: argument types, input objects,
enums, scalars, connection and edge types), drops every description, and writes
`schema_<version>.graphql` beside this file. The sandbox loads those SDL files at start-up, so
it needs neither the network nor `../shared` at run time.

Anything a client asks for outside this subset is rejected as an unknown field: stricter than
Shopify, never looser, which is the direction we want a sandbox to err in.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any

from graphql import build_client_schema, print_schema

VERSIONS: tuple[str, ...] = ("2026-10", "2026-07")
PACKAGE_DIR = Path(__file__).resolve().parent

RETURN_LINE_FIELDS = [
    "id",
    "quantity",
    "processedQuantity",
    "unprocessedQuantity",
    "processableQuantity",
    "refundedQuantity",
    "refundableQuantity",
    "returnReasonNote",
    "customerNote",
]

# Object (and interface) types we resolve, with the fields we resolve on each. Fields of
# `*Connection` / `*Edge` / `PageInfo` types are kept whole, so they are not listed here.
SERVED: dict[str, list[str]] = {
    "QueryRoot": [
        "shop",
        "locations",
        "location",
        "products",
        "product",
        "productVariants",
        "productVariant",
        "inventoryItems",
        "inventoryItem",
        "orders",
        "order",
        "node",
        "nodes",
        "fulfillmentOrder",
        "job",
        "webhookSubscriptions",
        "webhookSubscription",
        # Bulk operations (bulk.py): large reads off the query-cost bucket.
        "bulkOperation",
        "currentBulkOperation",
        # Sizes, so a reader can choose a bulk operation for a large read (and check its search).
        "ordersCount",
        "productVariantsCount",
    ],
    "Mutation": [
        "fulfillmentCreate",
        "fulfillmentTrackingInfoUpdate",
        "fulfillmentCancel",
        "inventoryItemUpdate",
        "fulfillmentOrderMove",
        "inventorySetQuantities",
        "inventoryAdjustQuantities",
        "orderCancel",
        "webhookSubscriptionCreate",
        # Money and goods coming back (finance): payments captured, refunds, returns.
        "orderCapture",
        "refundCreate",
        "returnCreate",
        "returnProcess",
        "returnClose",
        "bulkOperationRunQuery",
        "bulkOperationCancel",
    ],
    "Node": ["id"],
    "DisplayableError": ["field", "message"],
    "Shop": ["id", "name", "myshopifyDomain", "currencyCode", "plan"],
    "ShopPlan": ["partnerDevelopment", "publicDisplayName", "shopifyPlus"],
    "Location": ["id", "legacyResourceId", "name", "isActive", "fulfillsOnlineOrders", "inventoryLevels"],
    "Product": ["id", "legacyResourceId", "title", "handle", "status", "isGiftCard", "tags", "variants"],
    "ProductVariant": [
        "id",
        "legacyResourceId",
        "title",
        "displayName",
        "sku",
        "barcode",
        "price",
        "product",
        "inventoryItem",
        "requiresComponents",
        "productVariantComponents",
    ],
    "ProductVariantComponent": ["id", "quantity", "productVariant"],
    "InventoryItem": [
        "id",
        "legacyResourceId",
        "sku",
        "tracked",
        "requiresShipping",
        "inventoryLevel",
        "inventoryLevels",
    ],
    "InventoryLevel": ["id", "item", "location", "quantities", "updatedAt"],
    "InventoryQuantity": ["id", "name", "quantity", "updatedAt"],
    "Order": [
        "id",
        "legacyResourceId",
        "name",
        "createdAt",
        "updatedAt",
        "processedAt",
        "cancelledAt",
        "cancelReason",
        "closed",
        "closedAt",
        "displayFinancialStatus",
        "displayFulfillmentStatus",
        "fullyPaid",
        "test",
        "edited",
        "currentSubtotalLineItemsQuantity",
        "email",
        "phone",
        "note",
        "tags",
        "customAttributes",
        "sourceName",
        "poNumber",
        "shippingAddress",
        "shippingLine",
        "totalPriceSet",
        "currencyCode",
        "customer",
        "purchasingEntity",
        "lineItems",
        "fulfillmentOrders",
        "fulfillments",
        # Money as Shopify states it (finance reads it, never recomputes it).
        "presentmentCurrencyCode",
        "taxesIncluded",
        "subtotalPriceSet",
        "currentSubtotalPriceSet",
        "totalDiscountsSet",
        "currentTotalDiscountsSet",
        "totalShippingPriceSet",
        "currentShippingPriceSet",
        "totalTaxSet",
        "currentTotalTaxSet",
        "currentTotalPriceSet",
        "totalReceivedSet",
        "totalRefundedSet",
        "totalRefundedShippingSet",
        "netPaymentSet",
        "refundDiscrepancySet",
        "totalOutstandingSet",
        "totalCapturableSet",
        "capturable",
        "transactions",
        "refunds",
        "returns",
        "returnStatus",
        "suggestedRefund",
    ],
    "Customer": ["id", "displayName", "tags"],
    # B2B: `Order.purchasingEntity` is the union Customer | PurchasingCompany; only the merchant
    # creates companies and their locations, so routing may trust them (a cart attribute no).
    "PurchasingCompany": ["company", "location"],
    "Company": ["id", "name", "externalId"],
    "CompanyLocation": ["id", "name", "externalId"],
    "Attribute": ["key", "value"],
    "MailingAddress": [
        "id",
        "name",
        "firstName",
        "lastName",
        "company",
        "address1",
        "address2",
        "city",
        "province",
        "provinceCode",
        "zip",
        "country",
        "countryCodeV2",
        "phone",
    ],
    "ShippingLine": [
        "id",
        "title",
        "code",
        "carrierIdentifier",
        "source",
        "custom",
        "isRemoved",
        "originalPriceSet",
    ],
    "MoneyBag": ["shopMoney", "presentmentMoney"],
    "MoneyV2": ["amount", "currencyCode"],
    "LineItem": [
        "id",
        "sku",
        "name",
        "title",
        "quantity",
        "currentQuantity",
        "unfulfilledQuantity",
        "nonFulfillableQuantity",
        "requiresShipping",
        "isGiftCard",
        "customAttributes",
        "originalUnitPriceSet",
        "variant",
        "lineItemGroup",
    ],
    "LineItemGroup": ["id", "title", "quantity", "productId", "variantId", "variantSku", "customAttributes"],
    "FulfillmentOrder": [
        "id",
        "status",
        "requestStatus",
        "orderId",
        "orderName",
        "createdAt",
        "updatedAt",
        "assignedLocation",
        "supportedActions",
        "lineItems",
        "order",
    ],
    "FulfillmentOrderAssignedLocation": ["name", "location"],
    "FulfillmentOrderSupportedAction": ["action", "externalUrl"],
    "FulfillmentOrderLineItem": [
        "id",
        "sku",
        "inventoryItemId",
        "totalQuantity",
        "remainingQuantity",
        "requiresShipping",
        "lineItem",
    ],
    "Fulfillment": [
        "id",
        "legacyResourceId",
        "name",
        "status",
        "createdAt",
        "updatedAt",
        "totalQuantity",
        "trackingInfo",
        "fulfillmentLineItems",
        "order",
    ],
    "FulfillmentTrackingInfo": ["company", "number", "url"],
    "FulfillmentLineItem": ["id", "quantity", "lineItem"],
    "FulfillmentCreatePayload": ["fulfillment", "userErrors"],
    "FulfillmentOrderMovePayload": [
        "movedFulfillmentOrder",
        "originalFulfillmentOrder",
        "remainingFulfillmentOrder",
        "userErrors",
    ],
    "FulfillmentOrderMoveFulfillmentOrderMoveUserError": ["code", "field", "message"],
    "FulfillmentTrackingInfoUpdatePayload": ["fulfillment", "userErrors"],
    "FulfillmentCancelPayload": ["fulfillment", "userErrors"],
    "InventoryItemUpdatePayload": ["inventoryItem", "userErrors"],
    "InventorySetQuantitiesPayload": ["inventoryAdjustmentGroup", "userErrors"],
    "InventoryAdjustQuantitiesPayload": ["inventoryAdjustmentGroup", "userErrors"],
    "InventoryAdjustmentGroup": ["id", "createdAt", "reason", "referenceDocumentUri", "changes"],
    "InventoryChange": ["name", "delta", "quantityAfterChange", "item", "location", "ledgerDocumentUri"],
    "InventorySetQuantitiesUserError": ["code", "field", "message"],
    "InventoryAdjustQuantitiesUserError": ["code", "field", "message"],
    "UserError": ["field", "message"],
    "OrderCancelPayload": ["job", "jobResult", "orderCancelUserErrors", "userErrors"],
    "OrderCancelUserError": ["code", "field", "message"],
    "OrderCancelJobResult": ["id", "done", "status", "errors", "order"],
    "JobResult": ["id", "done"],
    "Job": ["id", "done"],
    "WebhookSubscriptionCreatePayload": ["webhookSubscription", "userErrors"],
    "OrderTransaction": [
        "id",
        "kind",
        "status",
        "gateway",
        "amountSet",
        "parentTransaction",
        "processedAt",
        "createdAt",
        "authorizationExpiresAt",
        "manuallyCapturable",
        "multiCapturable",
        "test",
    ],
    "Refund": [
        "id",
        "legacyResourceId",
        "note",
        "createdAt",
        "processedAt",
        "updatedAt",
        "totalRefundedSet",
        "refundLineItems",
        "refundShippingLines",
        "transactions",
        "return",
        "order",
    ],
    "RefundLineItem": [
        "id",
        "lineItem",
        "location",
        "quantity",
        "restockType",
        "restocked",
        "priceSet",
        "subtotalSet",
        "totalTaxSet",
    ],
    "RefundShippingLine": ["id", "shippingLine", "subtotalAmountSet", "taxAmountSet"],
    "Return": [
        "id",
        "name",
        "status",
        "createdAt",
        "closedAt",
        "totalQuantity",
        "order",
        "returnLineItems",
        "refunds",
    ],
    "ReturnLineItemType": RETURN_LINE_FIELDS,
    "ReturnLineItem": [*RETURN_LINE_FIELDS, "fulfillmentLineItem"],
    "SuggestedRefund": [
        "amountSet",
        "subtotalSet",
        "discountedSubtotalSet",
        "totalTaxSet",
        "maximumRefundableSet",
        "shipping",
        "refundLineItems",
        "suggestedTransactions",
    ],
    "ShippingRefund": ["amountSet", "taxSet", "maximumRefundableSet"],
    "SuggestedOrderTransaction": [
        "amountSet",
        "maximumRefundableSet",
        "gateway",
        "kind",
        "parentTransaction",
    ],
    "RefundCreatePayload": ["refund", "order", "userErrors"],
    "OrderCapturePayload": ["transaction", "userErrors"],
    "ReturnCreatePayload": ["return", "userErrors"],
    "ReturnProcessPayload": ["return", "userErrors"],
    "ReturnClosePayload": ["return", "userErrors"],
    "ReturnUserError": ["code", "field", "message"],
    "BulkOperation": [
        "id",
        "status",
        "type",
        "errorCode",
        "createdAt",
        "completedAt",
        "objectCount",
        "rootObjectCount",
        "fileSize",
        "url",
        "partialDataUrl",
        "query",
    ],
    "BulkOperationRunQueryPayload": ["bulkOperation", "userErrors"],
    "BulkOperationCancelPayload": ["bulkOperation", "userErrors"],
    "BulkOperationUserError": ["code", "field", "message"],
    "Count": ["count", "precision"],
    "WebhookSubscription": [
        "id",
        "legacyResourceId",
        "topic",
        "uri",
        "format",
        "includeFields",
        "filter",
        "createdAt",
        "updatedAt",
    ],
}
WHOLE_SUFFIXES = ("Connection", "Edge")
KEPT_DIRECTIVES = {"idempotent", "include", "skip", "deprecated", "specifiedBy"}


def _named(type_ref: dict[str, Any]) -> str:
    while type_ref.get("ofType"):
        type_ref = type_ref["ofType"]
    return str(type_ref["name"])


def _strip(node: Any) -> Any:
    """Drop descriptions recursively: the served schema carries shapes, not prose."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _served_fields(type_def: dict[str, Any], version: str) -> list[dict[str, Any]]:
    name = type_def["name"]
    fields = type_def.get("fields") or []
    if name.endswith(WHOLE_SUFFIXES) or name == "PageInfo":
        return list(fields)
    wanted = SERVED.get(name)
    if wanted is None:
        raise KeyError(f"{version}: type {name} is reachable but not listed in SERVED")
    # A field missing from an older version (e.g. jobResult in 2026-07) is simply not served there.
    return [f for f in fields if f["name"] in wanted]


def subset(introspection: dict[str, Any], version: str) -> dict[str, Any]:
    """Return an introspection document holding only the served types and fields."""
    schema = introspection["data"]["__schema"] if "data" in introspection else introspection["__schema"]
    by_name = {t["name"]: t for t in schema["types"]}
    kept: dict[str, dict[str, Any]] = {}
    pending = [schema["queryType"]["name"], schema["mutationType"]["name"], "Node", "String", "Boolean"]
    while pending:
        name = pending.pop()
        if name in kept:
            continue
        type_def = dict(by_name[name])
        kept[name] = type_def
        refs: list[str] = []
        if type_def["kind"] in ("OBJECT", "INTERFACE"):
            type_def["fields"] = _served_fields(type_def, version)
            for field in type_def["fields"]:
                refs.append(_named(field["type"]))
                refs.extend(_named(arg["type"]) for arg in field["args"])
        if type_def["kind"] == "INTERFACE" and name != "Node":
            # The implementations we serve (listed in SERVED), so `... on X` works for each.
            refs.extend(p["name"] for p in type_def.get("possibleTypes") or [] if p["name"] in SERVED)
        elif type_def["kind"] == "INPUT_OBJECT":
            refs.extend(_named(f["type"]) for f in type_def["inputFields"])
        elif type_def["kind"] == "UNION":
            # Every member is served (and must be listed in SERVED), so `... on X` works for each.
            refs.extend(p["name"] for p in type_def["possibleTypes"])
        pending.extend(refs)
    for type_def in kept.values():
        if type_def["kind"] in ("OBJECT", "INTERFACE"):
            type_def["interfaces"] = [i for i in type_def.get("interfaces") or [] if i["name"] in kept]
        if type_def["kind"] == "INTERFACE":
            type_def["possibleTypes"] = [p for p in type_def.get("possibleTypes") or [] if p["name"] in kept]
    directives = [d for d in schema["directives"] if d["name"] in KEPT_DIRECTIVES]
    out = {
        "queryType": schema["queryType"],
        "mutationType": schema["mutationType"],
        "subscriptionType": None,
        "types": sorted(kept.values(), key=lambda t: t["name"]),
        "directives": directives,
    }
    return {"__schema": _strip(out)}


def generate(reference_dir: Path, out_dir: Path = PACKAGE_DIR) -> list[Path]:
    written = []
    for version in VERSIONS:
        with gzip.open(reference_dir / f"admin_{version}.json.gz", "rt", encoding="utf-8") as fh:
            official = json.load(fh)
        sdl = print_schema(build_client_schema(subset(official, version)))
        header = f"# Generated by generate_schema.py from admin_{version}.json.gz. Do not edit.\n"
        path = out_dir / f"schema_{version}.graphql"
        path.write_text(header + sdl + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference_dir", type=Path, help="folder holding admin_<version>.json.gz")
    args = parser.parse_args(argv)
    for path in generate(args.reference_dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
