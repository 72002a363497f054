"""Documents for bulk operations: the mutation and polls (in `documents.ALL`), and the bulk queries.

A bulk query is sent as a string inside `bulkOperationRunQuery(query:)`, so it has no variables:
the search is written into it as a GraphQL string literal (`literal`). Its connections carry no
`first` (a bulk operation pages for itself) and each nested connection's parent selects `id`,
as Shopify requires. The node fields are the paginated documents' own fragments, so a JSONL
line set reassembles into exactly what `Order` / `ProductVariant` / `OrderMoney` parse from a page.

The money fragment (`finance_documents.ORDER_MONEY`) cannot go into a bulk query whole: each refund
in the list `refunds` holds the connection `refundLineItems`, and Shopify refuses a connection
inside a list field. Its bulk form (`bulk_order_money_fields`) keeps each refund without its lines,
which says whether the order has refunds; `bulk_money.py` reads those orders again by id.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from .documents import ORDER_FIELDS
from .finance_documents import ORDER_MONEY

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


@cache
def bulk_order_money_fields() -> str:
    """`ORDER_MONEY` as a bulk query can hold it, derived from the fragment so the two never drift:
    no variables (a bulk query has none), no `pageInfo`, and in the list `refunds` no connection
    (`refundLineItems`). Without `first` a connection is read whole by the operation, and so is a
    list such as `transactions` (the schema: `first` "truncate[s] the array result to this size")."""
    from graphql import REMOVE, FieldNode, SelectionSetNode, VariableNode, Visitor, parse, print_ast, visit

    def connection(node: Any) -> bool:
        inner = node.selection_set.selections if isinstance(node, FieldNode) and node.selection_set else ()
        return any(isinstance(s, FieldNode) and s.name.value in ("nodes", "edges") for s in inner)

    class ForBulk(Visitor):
        def enter_argument(self, node: Any, *_: Any) -> Any:
            return REMOVE if isinstance(node.value, VariableNode) else None

        def enter_field(self, node: Any, *_: Any) -> Any:
            if node.name.value == "pageInfo":
                return REMOVE
            if node.name.value == "refunds" and node.selection_set:
                kept = tuple(s for s in node.selection_set.selections if not connection(s))
                return FieldNode(name=node.name, alias=node.alias, arguments=node.arguments,
                                 directives=node.directives, selection_set=SelectionSetNode(selections=kept))  # fmt: skip
            return None

    return print_ast(visit(parse(ORDER_MONEY), ForBulk()))


def literal(value: str) -> str:
    """A GraphQL string literal (JSON's escaping is valid GraphQL string escaping)."""
    return json.dumps(value, ensure_ascii=False)


def bulk_orders(search: str) -> str:
    return (
        f"query BulkOrders {{\n  orders(query: {literal(search)}, sortKey: UPDATED_AT) {{\n"
        "    nodes { ...OrderFields }\n  }\n}\n" + BULK_ORDER_FIELDS
    )


def bulk_orders_money(search: str) -> str:
    return (
        f"query BulkOrdersMoney {{\n  orders(query: {literal(search)}, sortKey: UPDATED_AT) {{\n"
        "    nodes { ...OrderMoney }\n  }\n}\n" + bulk_order_money_fields()
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
    "BulkOrdersMoney": bulk_orders_money(
        "created_at:>='2026-01-01T00:00:00Z' AND created_at:<'2026-02-01T00:00:00Z'"
    ),
    "BulkProductVariants": bulk_product_variants(None),
}
