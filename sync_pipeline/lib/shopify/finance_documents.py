"""GraphQL documents for finance: an order's money, payments, refunds and returns, and the
mutations that move money or goods back (used by the traffic generator, and by whoever captures).

`documents.ALL` includes these, so the conformance test validates them against the official
schema of both supported versions.
"""

from __future__ import annotations

BAG = "{ shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }"
LINE = f"id sku quantity currentQuantity requiresShipping originalUnitPriceSet {BAG}"
TRANSACTION = (
    f"id kind status gateway processedAt authorizationExpiresAt amountSet {BAG} parentTransaction {{ id }}"
)
REFUND_LINE = f"quantity restockType lineItem {{ id }} subtotalSet {BAG} totalTaxSet {BAG}"
REFUND = f"id createdAt note totalRefundedSet {BAG} return {{ id }}"
RETURN = "id name status totalQuantity createdAt closedAt"

ORDER_MONEY_FIELDS = f"""
fragment OrderMoney on Order {{
  id name createdAt updatedAt cancelledAt displayFinancialStatus returnStatus note
  currencyCode presentmentCurrencyCode taxesIncluded
  customer {{ displayName }}
  subtotalPriceSet {BAG}
  totalDiscountsSet {BAG}
  totalShippingPriceSet {BAG}
  totalTaxSet {BAG}
  totalPriceSet {BAG}
  currentTotalPriceSet {BAG}
  currentTotalTaxSet {BAG}
  totalReceivedSet {BAG}
  totalRefundedSet {BAG}
  totalRefundedShippingSet {BAG}
  netPaymentSet {BAG}
  refundDiscrepancySet {BAG}
  totalOutstandingSet {BAG}
  totalCapturableSet {BAG}
  lineItems(first: $lineItems) {{
    pageInfo {{ hasNextPage }}
    nodes {{ {LINE} }}
  }}
  transactions(first: $transactions) {{ {TRANSACTION} }}
  {{refunds}}
  returns(first: $returns) {{ nodes {{ {RETURN} }} }}
}}
"""
REFUNDS = f"""refunds(first: $refunds) {{
    {REFUND}
    refundLineItems(first: $lineItems) {{ nodes {{ {REFUND_LINE} }} }}
  }}"""
# The live read's first pass (`FinanceApi.iter_money_pages`) asks only whether an order has a refund:
# `Order.refunds` is a plain list with `first`, so `refunds(first: 1) { id }` costs 1 point (one
# Refund object, scalars free) where the full refunds cost 3 x (7 + 8 x 10) = 261. Most orders have
# none; the few that do are read again whole by id.
REFUNDS_PROBE = "refunds(first: 1) { id }"
ORDER_MONEY_LIGHT = ORDER_MONEY_FIELDS.replace("{refunds}", REFUNDS_PROBE).replace(
    "fragment OrderMoney ", "fragment OrderMoneyLight "
)
ORDER_MONEY = ORDER_MONEY_FIELDS.replace("{refunds}", REFUNDS)

ORDERS_MONEY = (
    """
query OrdersMoney($first: Int!, $after: String, $query: String!, $lineItems: Int!, $transactions: Int!,
                  $refunds: Int!, $returns: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...OrderMoney }
  }
}
"""
    + ORDER_MONEY
)

ORDERS_MONEY_LIGHT = (
    """
query OrdersMoneyLight($first: Int!, $after: String, $query: String!, $lineItems: Int!, $transactions: Int!,
                       $returns: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...OrderMoneyLight }
  }
}
"""
    + ORDER_MONEY_LIGHT
)

ORDERS_MONEY_BY_IDS = (
    """
query OrdersMoneyByIds($ids: [ID!]!, $lineItems: Int!, $transactions: Int!, $refunds: Int!, $returns: Int!) {
  nodes(ids: $ids) { ... on Order { ...OrderMoney } }
}
"""
    + ORDER_MONEY
)

# A big order's children, read on their own (`FinanceApi._read_in_parts`): each query stays under
# Shopify's 1,000-point cap, and the connections page by cursor.
PAGE = "pageInfo { hasNextPage endCursor }"

ORDER_MONEY_LINES = f"""
query OrderMoneyLines($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{ lineItems(first: $first, after: $after) {{ {PAGE} nodes {{ {LINE} }} }} }}
}}
"""

ORDER_MONEY_TRANSACTIONS = f"""
query OrderMoneyTransactions($id: ID!, $first: Int!) {{
  order(id: $id) {{ transactions(first: $first) {{ {TRANSACTION} }} }}
}}
"""

ORDER_MONEY_REFUNDS = f"""
query OrderMoneyRefunds($id: ID!, $refunds: Int!, $lineItems: Int!) {{
  order(id: $id) {{
    refunds(first: $refunds) {{ {REFUND} refundLineItems(first: $lineItems) {{ {PAGE} nodes {{ {REFUND_LINE} }} }} }}
  }}
}}
"""

REFUND_MONEY_LINES = f"""
query RefundMoneyLines($id: ID!, $first: Int!, $after: String) {{
  node(id: $id) {{
    ... on Refund {{ refundLineItems(first: $first, after: $after) {{ {PAGE} nodes {{ {REFUND_LINE} }} }} }}
  }}
}}
"""

ORDER_MONEY_RETURNS = f"""
query OrderMoneyReturns($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{ returns(first: $first, after: $after) {{ {PAGE} nodes {{ {RETURN} }} }} }}
}}
"""

ORDER_CAPTURE = f"""
mutation OrderCapture($input: OrderCaptureInput!) {{
  orderCapture(input: $input) {{
    transaction {{ id kind status amountSet {BAG} parentTransaction {{ id }} }}
    userErrors {{ field message }}
  }}
}}
"""

SUGGESTED_REFUND = f"""
query SuggestedRefund($id: ID!, $refundLineItems: [RefundLineItemInput!], $refundShipping: Boolean) {{
  order(id: $id) {{
    suggestedRefund(refundLineItems: $refundLineItems, refundShipping: $refundShipping) {{
      amountSet {BAG}
      suggestedTransactions {{ gateway amountSet {BAG} parentTransaction {{ id }} }}
    }}
  }}
}}
"""

REFUND_CREATE = f"""
mutation RefundCreate($input: RefundInput!, $key: String!) {{
  refundCreate(input: $input) @idempotent(key: $key) {{
    refund {{ id totalRefundedSet {BAG} }}
    userErrors {{ field message }}
  }}
}}
"""

FULFILLED_LINE = "id quantity lineItem { id sku }"

RETURNABLE = f"""
query Returnable($id: ID!, $first: Int!, $lineItems: Int!) {{
  order(id: $id) {{
    fulfillments(first: $first) {{
      id fulfillmentLineItems(first: $lineItems) {{ {PAGE} nodes {{ {FULFILLED_LINE} }} }}
    }}
  }}
}}
"""

FULFILLMENT_LINES = f"""
query FulfillmentLines($id: ID!, $first: Int!, $after: String) {{
  node(id: $id) {{
    ... on Fulfillment {{ fulfillmentLineItems(first: $first, after: $after) {{ {PAGE} nodes {{ {FULFILLED_LINE} }} }} }}
  }}
}}
"""

RETURN_FIELDS = """
  id name status
  returnLineItems(first: $lineItems) {
    nodes { id quantity processedQuantity ... on ReturnLineItem { fulfillmentLineItem { lineItem { id } } } }
  }
"""

RETURN_CREATE = f"""
mutation ReturnCreate($returnInput: ReturnInput!, $lineItems: Int!) {{
  returnCreate(returnInput: $returnInput) {{
    return {{ {RETURN_FIELDS} }}
    userErrors {{ code field message }}
  }}
}}
"""

RETURN_PROCESS = f"""
mutation ReturnProcess($input: ReturnProcessInput!, $key: String!, $lineItems: Int!) {{
  returnProcess(input: $input) @idempotent(key: $key) {{
    return {{ {RETURN_FIELDS} }}
    userErrors {{ code field message }}
  }}
}}
"""

RETURN_CLOSE = f"""
mutation ReturnClose($id: ID!, $lineItems: Int!) {{
  returnClose(id: $id) {{
    return {{ {RETURN_FIELDS} }}
    userErrors {{ code field message }}
  }}
}}
"""

ALL: dict[str, str] = {
    "OrdersMoney": ORDERS_MONEY,
    "OrdersMoneyLight": ORDERS_MONEY_LIGHT,
    "OrdersMoneyByIds": ORDERS_MONEY_BY_IDS,
    "OrderMoneyLines": ORDER_MONEY_LINES,
    "OrderMoneyTransactions": ORDER_MONEY_TRANSACTIONS,
    "OrderMoneyRefunds": ORDER_MONEY_REFUNDS,
    "RefundMoneyLines": REFUND_MONEY_LINES,
    "OrderMoneyReturns": ORDER_MONEY_RETURNS,
    "OrderCapture": ORDER_CAPTURE,
    "SuggestedRefund": SUGGESTED_REFUND,
    "RefundCreate": REFUND_CREATE,
    "Returnable": RETURNABLE,
    "FulfillmentLines": FULFILLMENT_LINES,
    "ReturnCreate": RETURN_CREATE,
    "ReturnProcess": RETURN_PROCESS,
    "ReturnClose": RETURN_CLOSE,
}
