"""Every GraphQL document the client sends, as constants.

The schema conformance test imports `ALL` and validates each one against the official Admin
schema for every supported version, so a field Shopify does not have can never ship. Keep the
documents valid for both 2026-10 and 2026-07 (e.g. `orderCancel` reads `job`, not `jobResult`).
"""

from __future__ import annotations

LINE_ITEM_FIELDS = """
fragment LineItemFields on LineItem {
  id sku name quantity currentQuantity requiresShipping isGiftCard
  originalUnitPriceSet { shopMoney { amount currencyCode } }
  variant { id sku inventoryItem { id } }
  lineItemGroup { id title quantity variantSku }
}
"""

ORDER_FIELDS = (
    """
fragment OrderFields on Order {
  id legacyResourceId name createdAt updatedAt processedAt cancelledAt cancelReason closed
  displayFinancialStatus displayFulfillmentStatus email phone tags
  customAttributes { key value }
  sourceName poNumber
  shippingAddress { name company address1 address2 city provinceCode zip countryCodeV2 phone }
  shippingLine { code title }
  totalPriceSet { shopMoney { amount currencyCode } }
  currencyCode
  customer { tags }
  purchasingEntity { ... on PurchasingCompany { company { id name } location { id name } } }
  lineItems(first: $lineItems) { pageInfo { hasNextPage endCursor } nodes { ...LineItemFields } }
}
"""
    + LINE_ITEM_FIELDS
)

ORDERS_UPDATED_SINCE = (
    """
query OrdersUpdatedSince($first: Int!, $after: String, $query: String!, $lineItems: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...OrderFields }
  }
}
"""
    + ORDER_FIELDS
)

# Which orders changed since a time, without their content: about one point per order instead of
# a full read (scalars cost nothing, so the fields the orders flow most needs to notice ride along).
# Ingest reads in full only those the ledger does not already hold (see lib/flows/orders/ingest.py).
ORDER_CHANGES_SINCE = """
query OrderChangesSince($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { id updatedAt cancelledAt displayFinancialStatus email phone tags currentSubtotalLineItemsQuantity }
  }
}
"""

ORDER_BY_ID = (
    """
query OrderById($id: ID!, $lineItems: Int!) {
  order(id: $id) { ...OrderFields }
}
"""
    + ORDER_FIELDS
)

ORDERS_BY_IDS = (
    """
query OrdersByIds($ids: [ID!]!, $lineItems: Int!) {
  nodes(ids: $ids) { ... on Order { ...OrderFields } }
}
"""
    + ORDER_FIELDS
)

# Just enough to tell whether an order changed since we last read it: about one point per order
# instead of a full read, so confirming a flash sale's orders before release stays cheap.
ORDER_VERSIONS = """
query OrderVersions($ids: [ID!]!) {
  nodes(ids: $ids) { ... on Order { id updatedAt } }
}
"""

# An order's version with the fields routing and the parcel read that a webhook body, recorded once
# its second is over, could still have missed (a second change in that second whose webhook was
# lost, which the poll's free fields do not show): about four points an order (the Order and its
# three objects) against 72 for a read in full (ten lines). Release asks it for body-recorded snapshots.
ORDER_DELIVERY_VERSIONS = """
query OrderDeliveryVersions($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Order {
      id updatedAt
      customAttributes { key value }
      shippingAddress { name company address1 address2 city provinceCode zip countryCodeV2 phone }
      shippingLine { code title }
    }
  }
}
"""

# An order's customer tags with its version: about two points an order (the Order and its
# Customer), for orders recorded from their webhook bodies, which carry no customer tags.
ORDER_CUSTOMER_TAGS = """
query OrderCustomerTags($ids: [ID!]!) {
  nodes(ids: $ids) { ... on Order { id updatedAt customer { tags } } }
}
"""

ORDER_LINE_ITEMS = (
    """
query OrderLineItems($id: ID!, $first: Int!, $after: String) {
  order(id: $id) {
    lineItems(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { ...LineItemFields } }
  }
}
"""
    + LINE_ITEM_FIELDS
)

PRODUCT_VARIANTS = """
query ProductVariants($first: Int!, $after: String, $query: String, $components: Int!) {
  productVariants(first: $first, after: $after, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id sku barcode requiresComponents
      inventoryItem { id tracked }
      product { tags }
      productVariantComponents(first: $components) { nodes { quantity productVariant { id sku } } }
    }
  }
}
"""

LOCATIONS = """
query Locations($first: Int!, $after: String) {
  locations(first: $first, after: $after, includeInactive: true) {
    pageInfo { hasNextPage endCursor }
    nodes { id legacyResourceId name isActive }
  }
}
"""

FULFILLMENT_ORDERS = """
query FulfillmentOrders($id: ID!, $first: Int!, $lineItems: Int!, $after: String) {
  order(id: $id) {
    fulfillmentOrders(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id status
        supportedActions { action }
        assignedLocation { name location { id } }
        lineItems(first: $lineItems) {
          pageInfo { hasNextPage endCursor }
          nodes { id sku remainingQuantity totalQuantity lineItem { id sku } }
        }
      }
    }
  }
}
"""

# The rest of one fulfilment order's line items, when its first page was not the last.
FULFILLMENT_ORDER_LINES = """
query FulfillmentOrderLines($id: ID!, $first: Int!, $after: String) {
  fulfillmentOrder(id: $id) {
    lineItems(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id sku remainingQuantity totalQuantity lineItem { id sku } }
    }
  }
}
"""

# Moves unfulfilled FO line items to another location. The moved fulfilment order's line items are
# read back because a partial move gives them new ids (fulfil with those).
FULFILLMENT_ORDER_MOVE = """
mutation FulfillmentOrderMove($id: ID!, $newLocationId: ID!, $lineItems: [FulfillmentOrderLineItemInput!]) {
  fulfillmentOrderMove(id: $id, newLocationId: $newLocationId, fulfillmentOrderLineItems: $lineItems) {
    movedFulfillmentOrder {
      id status
      supportedActions { action }
      assignedLocation { name location { id } }
      lineItems(first: 250) { nodes { id sku remainingQuantity totalQuantity lineItem { id sku } } }
    }
    originalFulfillmentOrder { id status }
    userErrors { field message code }
  }
}
"""

FULFILLMENT_CREATE = """
mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id name status trackingInfo { company number url } order { id updatedAt } }
    userErrors { field message }
  }
}
"""

# Every fulfilment order of many orders at once (line items first page; the client pages the rest).
ORDERS_FULFILMENT_STATE = """
query OrdersFulfilmentState($ids: [ID!]!, $first: Int!, $lineItems: Int!) {
  nodes(ids: $ids) {
    ... on Order {
      id updatedAt cancelledAt displayFulfillmentStatus
      fulfillmentOrders(first: $first) {
        pageInfo { hasNextPage }
        nodes {
          id status
          supportedActions { action }
          assignedLocation { name location { id } }
          lineItems(first: $lineItems) {
            pageInfo { hasNextPage }
            nodes { id sku remainingQuantity totalQuantity lineItem { id sku } }
          }
        }
      }
    }
  }
}
"""

# An order's fulfilments as Shopify holds them: read before retrying a fulfilment whose outcome is unknown.
ORDER_FULFILLMENTS = """
query OrderFulfillments($id: ID!, $first: Int!, $lineItems: Int!) {
  order(id: $id) {
    id
    fulfillments(first: $first) {
      id name status createdAt
      trackingInfo { company number url }
      fulfillmentLineItems(first: $lineItems) { pageInfo { hasNextPage } nodes { quantity lineItem { id } } }
    }
  }
}
"""

# Every fulfilment of an order, ids only: when one page of `ORDER_FULFILLMENTS` did not hold them all.
ORDER_FULFILLMENT_IDS = """
query OrderFulfillmentIds($id: ID!, $first: Int!) {
  order(id: $id) {
    id
    fulfillments(first: $first) { id }
  }
}
"""

# One fulfilment read whole, its line items page after page.
FULFILLMENT_WHOLE = """
query FulfillmentWhole($id: ID!, $lineItems: Int!, $after: String) {
  node(id: $id) {
    ... on Fulfillment {
      id name status createdAt
      trackingInfo { company number url }
      fulfillmentLineItems(first: $lineItems, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { quantity lineItem { id } }
      }
    }
  }
}
"""

FULFILLMENT_TRACKING_INFO_UPDATE = """
mutation FulfillmentTrackingInfoUpdate($fulfillmentId: ID!, $trackingInfoInput: FulfillmentTrackingInput!,
                                       $notifyCustomer: Boolean) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $fulfillmentId, trackingInfoInput: $trackingInfoInput,
                                notifyCustomer: $notifyCustomer) {
    fulfillment { id name status trackingInfo { company number url } }
    userErrors { field message }
  }
}
"""

INVENTORY_LEVELS = """
query InventoryLevels($ids: [ID!]!, $locationId: ID!, $names: [String!]!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id
      inventoryLevel(locationId: $locationId) { quantities(names: $names) { name quantity } }
    }
  }
}
"""

# Every level stocked at one location, optionally only those updated since a time (`query`):
# the stock flow keeps a copy of Shopify's levels and reads only what changed since.
LOCATION_INVENTORY_LEVELS = """
query LocationInventoryLevels($id: ID!, $first: Int!, $after: String, $query: String, $names: [String!]!) {
  location(id: $id) {
    inventoryLevels(first: $first, after: $after, query: $query) {
      pageInfo { hasNextPage endCursor }
      nodes { updatedAt item { id } quantities(names: $names) { name quantity } }
    }
  }
}
"""

INVENTORY_SET_QUANTITIES = """
mutation InventorySetQuantities($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id reason referenceDocumentUri changes { name delta quantityAfterChange } }
    userErrors { code field message }
  }
}
"""

INVENTORY_ADJUST_QUANTITIES = """
mutation InventoryAdjustQuantities($input: InventoryAdjustQuantitiesInput!, $key: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id reason referenceDocumentUri changes { name delta quantityAfterChange } }
    userErrors { code field message }
  }
}
"""

ORDER_CANCEL = """
mutation OrderCancel($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!, $notifyCustomer: Boolean,
                     $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, restock: $restock, notifyCustomer: $notifyCustomer,
              staffNote: $staffNote) {
    job { id done }
    orderCancelUserErrors { code field message }
  }
}
"""

JOB = """
query Job($id: ID!) {
  job(id: $id) { id done }
}
"""

WEBHOOK_SUBSCRIPTION_CREATE = """
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: { uri: $uri, format: JSON }) {
    webhookSubscription { id topic uri format }
    userErrors { field message }
  }
}
"""

WEBHOOK_SUBSCRIPTIONS = """
query WebhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id topic uri format }
  }
}
"""

SHOP = """
query Shop {
  shop { id name myshopifyDomain currencyCode }
}
"""

ALL: dict[str, str] = {
    "OrdersUpdatedSince": ORDERS_UPDATED_SINCE,
    "OrderChangesSince": ORDER_CHANGES_SINCE,
    "OrderById": ORDER_BY_ID,
    "OrdersByIds": ORDERS_BY_IDS,
    "OrderVersions": ORDER_VERSIONS,
    "OrderDeliveryVersions": ORDER_DELIVERY_VERSIONS,
    "OrderCustomerTags": ORDER_CUSTOMER_TAGS,
    "OrderLineItems": ORDER_LINE_ITEMS,
    "ProductVariants": PRODUCT_VARIANTS,
    "Locations": LOCATIONS,
    "FulfillmentOrders": FULFILLMENT_ORDERS,
    "FulfillmentOrderLines": FULFILLMENT_ORDER_LINES,
    "OrderFulfillmentIds": ORDER_FULFILLMENT_IDS,
    "FulfillmentWhole": FULFILLMENT_WHOLE,
    "FulfillmentCreate": FULFILLMENT_CREATE,
    "OrdersFulfilmentState": ORDERS_FULFILMENT_STATE,
    "OrderFulfillments": ORDER_FULFILLMENTS,
    "FulfillmentTrackingInfoUpdate": FULFILLMENT_TRACKING_INFO_UPDATE,
    "InventoryLevels": INVENTORY_LEVELS,
    "LocationInventoryLevels": LOCATION_INVENTORY_LEVELS,
    "InventorySetQuantities": INVENTORY_SET_QUANTITIES,
    "InventoryAdjustQuantities": INVENTORY_ADJUST_QUANTITIES,
    "OrderCancel": ORDER_CANCEL,
    "Job": JOB,
    "WebhookSubscriptionCreate": WEBHOOK_SUBSCRIPTION_CREATE,
    "WebhookSubscriptions": WEBHOOK_SUBSCRIPTIONS,
    "Shop": SHOP,
}

# Finance reads and the mutations that move money or goods back (finance_documents.py).
from .finance_documents import ALL as _FINANCE  # noqa: E402

ALL.update(_FINANCE)

# Bulk operations: the mutation that starts one, the poll, the cancel and the size reads.
from .bulk_documents import ALL as _BULK  # noqa: E402

ALL.update(_BULK)
