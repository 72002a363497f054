"""Documents for bulk operations: the mutation and polls (in `documents.ALL`), and the bulk queries.

A bulk query is sent as a string inside `bulkOperationRunQuery(query:)`, so it has no variables:
the search is written into it as a GraphQL string literal (`literal`). Its connections carry no
`first` (a bulk operation pages for itself) and each nested connection's parent selects `id`,
as Shopify requires. The node fields are the paginated documents' own fragments, so a JSONL
line set reassembles into exactly what `Order` / `ProductVariant` parse from a page.
"""

from __future__ import annotations

import json

from .documents import ORDER_FIELDS

BULK_OPERATION_FIELDS = """
fragment BulkOperationFields on BulkOperation {
  id status errorCode createdAt completedAt objectCount rootObjectCount fileSize url partialDataUrl
}
"""

BULK_OPERATION_RUN_QUERY = (
    """
mutation BulkOperationRunQuery($query: String!, $groupObjects: Boolean!) {
  bulkOperationRunQuery(query: $query, groupObjects: $groupObjects) {
    bulkOperation { ...BulkOperationFields }
    userErrors { code field message }
  }
}
"""
    + BULK_OPERATION_FIELDS
)

BULK_OPERATION = (
    """
query BulkOperation($id: ID!) {
  bulkOperation(id: $id) { ...BulkOperationFields }
}
"""
    + BULK_OPERATION_FIELDS
)

BULK_OPERATION_CANCEL = (
    """
mutation BulkOperationCancel($id: ID!) {
  bulkOperationCancel(id: $id) {
    bulkOperation { ...BulkOperationFields }
    userErrors { field message }
  }
}
"""
    + BULK_OPERATION_FIELDS
)

# How many orders / variants a read would return; also reports a search term Shopify ignored,
# which a bulk result cannot (it has no `extensions`).
ORDERS_COUNT = """
query OrdersCount($query: String!, $limit: Int) {
  ordersCount(query: $query, limit: $limit) { count precision }
}
"""

PRODUCT_VARIANTS_COUNT = """
query ProductVariantsCount($query: String, $limit: Int) {
  productVariantsCount(query: $query, limit: $limit) { count precision }
}
"""

ALL: dict[str, str] = {
    "BulkOperationRunQuery": BULK_OPERATION_RUN_QUERY,
    "BulkOperation": BULK_OPERATION,
    "BulkOperationCancel": BULK_OPERATION_CANCEL,
    "OrdersCount": ORDERS_COUNT,
    "ProductVariantsCount": PRODUCT_VARIANTS_COUNT,
}

# The paginated document's order fields, with line items as a bulk connection (no `first`).
_PAGED_LINE_ITEMS = (
    "lineItems(first: $lineItems) { pageInfo { hasNextPage endCursor } nodes { ...LineItemFields } }"
)
assert _PAGED_LINE_ITEMS in ORDER_FIELDS, "documents.ORDER_FIELDS changed: update the bulk form"
BULK_ORDER_FIELDS = ORDER_FIELDS.replace(_PAGED_LINE_ITEMS, "lineItems { nodes { ...LineItemFields } }")


def literal(value: str) -> str:
    """A GraphQL string literal (JSON's escaping is valid GraphQL string escaping)."""
    return json.dumps(value, ensure_ascii=False)


def bulk_orders(search: str) -> str:
    return (
        f"query BulkOrders {{\n  orders(query: {literal(search)}, sortKey: UPDATED_AT) {{\n"
        "    nodes { ...OrderFields }\n  }\n}\n" + BULK_ORDER_FIELDS
    )


def bulk_product_variants(search: str | None) -> str:
    query = f"(query: {literal(search)})" if search else ""
    return f"""query BulkProductVariants {{
  productVariants{query} {{
    nodes {{
      id sku barcode requiresComponents
      inventoryItem {{ id tracked }}
      product {{ tags }}
      productVariantComponents {{ nodes {{ quantity productVariant {{ id sku }} }} }}
    }}
  }}
}}
"""


# Examples of every bulk query the client sends, for the schema conformance test.
BULK_QUERIES: dict[str, str] = {
    "BulkOrders": bulk_orders("created_at:>='2026-01-01T00:00:00Z'"),
    "BulkProductVariants": bulk_product_variants(None),
}
