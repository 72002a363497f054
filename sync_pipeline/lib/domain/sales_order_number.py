"""The Peoplevox SalesOrderNumber for a Shopify order.

Choice: `<prefix><Shopify numeric order id>`, e.g. `SHP-5678901234567`. The numeric id
(`legacyResourceId`, the tail of the order's GID) never changes across edits, is unique per
shop, and is what retries and re-reads see, so the same order always gets the same number and
an injection whose outcome is unknown can be looked up. The order name (`#1001`) is not used:
it is not unique across shops and merchants can change its format; it travels in
CustomerPurchaseOrderReferenceNumber instead. A 64-bit id has at most 20 digits and the prefix
at most 10 characters, so the number fits Peoplevox's 30.
"""

from __future__ import annotations

import re

MAX_LENGTH = 30
_GID = re.compile(r"^gid://shopify/Order/([0-9]+)$")


MAX_SHOPIFY_ID = 2**63 - 1


def shopify_numeric_id(order_id: str | int) -> int:
    """The numeric id from `gid://shopify/Order/123`, `"123"` or `123`."""
    if isinstance(order_id, bool):
        raise ValueError(f"not a Shopify order id: {order_id!r}")
    if isinstance(order_id, int):
        number = order_id
    else:
        text = order_id.strip()
        found = _GID.match(text)
        digits = found.group(1) if found else text
        if not digits.isascii() or not digits.isdigit():
            raise ValueError(f"not a Shopify order id: {order_id!r}")
        number = int(digits)
    # Shopify ids are signed 64-bit integers; anything else is not an id Shopify issued.
    if number <= 0 or number > MAX_SHOPIFY_ID:
        raise ValueError(f"not a Shopify order id: {order_id!r}")
    return number


def sales_order_number(order_id: str | int, prefix: str) -> str:
    number = f"{prefix}{shopify_numeric_id(order_id)}"
    if len(number) > MAX_LENGTH:
        raise ValueError(f"SalesOrderNumber {number!r} is longer than Peoplevox's {MAX_LENGTH} characters")
    return number
