"""An order from its `orders/*` webhook body: the REST payload as the `ShopOrder` a read by id gives.

Shopify renders the body when the change happens, so it is the order at the version its
`updated_at` names, and recording it costs no Shopify read. It must record exactly as a read by
id of that version would (`test_webhook_order.py` checks it against the sandbox), so whatever a
body cannot settle it refuses (`BodyRefused`, naming what), and the order is read by id instead:

- a B2B order: REST's `company` names the company and its location by id only, and routing
  reads their names;
- a bundle component (a line with a `sales_line_item_group_id`, API 2025-01 on): we are not sure
  enough that REST's line item group is GraphQL's `lineItemGroup` field for field;
- a line without `sales_line_item_group_id` (a version before 2025-01, or `includeFields`): it
  could be a bundle component;
- more than one shipping line: which one GraphQL's `shippingLine` shows is not documented;
- a shipping line an order edit removed (`is_removed`): REST keeps it, GraphQL leaves it out;
- anything else missing, of the wrong type, or unknown (a financial status outside the enum), or
  text with no UTF-8 form (a lone surrogate escape: valid JSON, but the ledger cannot store it).

Customer tags: since API 2025-01 no webhook body carries the customer's `tags` (Shopify's
changelog "New customer's webhook and changes to existing customer's webhooks payload"). They are
not part of the order's version either: tagging a customer leaves the order's `updatedAt` alone,
so the ledger's customer tags are always "as of the last read". The caller passes None (not read
yet; `customer_tags.py` reads them before routing needs them): the body names its customer by id
only, and the order may have been moved to another customer since the last read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from sync_pipeline.lib.domain.models import Attribute, ShippingAddress, ShopLine, ShopOrder

# The topics whose body is the order itself. `orders/edited` carries an `order_edit` (what was
# added and removed, no version); the `orders/updated` Shopify sends for the same edit has the order.
ORDER_BODY_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
    }
)
ORDER_GID = re.compile(r"gid://shopify/Order/[0-9]{1,20}")
_LINE_GID = re.compile(r"gid://shopify/LineItem/[0-9]{1,20}")
# REST's `financial_status`: GraphQL's `OrderDisplayFinancialStatus` in lower case.
_FINANCIAL = frozenset(
    {"pending", "authorized", "partially_paid", "paid", "partially_refunded", "refunded", "voided", "expired"}
)
_ADDRESS = {  # ShippingAddress field: REST key
    "name": "name",
    "company": "company",
    "address1": "address1",
    "address2": "address2",
    "city": "city",
    "province_code": "province_code",
    "zip": "zip",
    "country_code": "country_code",  # GraphQL's countryCodeV2
    "phone": "phone",
}


class BodyRefused(ValueError):
    """This body cannot settle its order: read the order by id (the message says why)."""


def order_id_of(payload: Mapping[str, Any]) -> str | None:
    """The order's global id, when the body names one well formed."""
    oid = payload.get("admin_graphql_api_id")
    return oid if isinstance(oid, str) and ORDER_GID.fullmatch(oid) else None


def body_version(payload: Mapping[str, Any]) -> datetime:
    """The version the body carries (`updated_at`, aware UTC)."""
    return _moment(payload, "updated_at", "order")  # type: ignore[return-value]


def order_from_body(payload: Mapping[str, Any], customer_tags: tuple[str, ...] | None) -> ShopOrder:
    """The order a read by id of this body's version would give (customer tags: see the module)."""
    oid = order_id_of(payload)
    if oid is None:
        raise BodyRefused(f"admin_graphql_api_id {payload.get('admin_graphql_api_id')!r} is no order id")
    _encodable(payload)
    if _get(payload, "company", "order") is not None:
        raise BodyRefused("a B2B order: the body names its company by id only")
    status = _text(payload, "financial_status", "order")
    if status is not None and status not in _FINANCIAL:
        raise BodyRefused(f"financial_status {status!r} is not one Shopify documents")
    shipping_lines = _list(payload, "shipping_lines", "order")
    if len(shipping_lines) > 1:
        raise BodyRefused(f"{len(shipping_lines)} shipping lines")
    shipping = _object(shipping_lines[0], "shipping line") if shipping_lines else None
    if shipping is not None and shipping.get("is_removed"):
        # REST (so every order body) keeps a shipping line an order edit removed, marked
        # `is_removed` (2024-04 on); GraphQL's `shippingLine` does not show it.
        raise BodyRefused("its shipping line was removed by an order edit")
    customer = _get(payload, "customer", "order")
    if customer is not None and not isinstance(customer, Mapping):
        raise BodyRefused("customer is not an object")
    address = _get(payload, "shipping_address", "order")
    if address is not None and not isinstance(address, Mapping):
        raise BodyRefused("shipping_address is not an object")
    try:
        return ShopOrder(
            id=oid,
            name=_required_text(payload, "name", "order"),
            created_at=_moment(payload, "created_at", "order"),
            updated_at=body_version(payload),
            processed_at=_moment(payload, "processed_at", "order", optional=True),
            financial_status=(status or "pending").upper(),
            cancelled_at=_moment(payload, "cancelled_at", "order", optional=True),
            tags=_tags(payload),
            customer_tags=() if customer is None else customer_tags,
            custom_attributes=tuple(_attribute(a) for a in _list(payload, "note_attributes", "order")),
            source_name=_text(payload, "source_name", "order"),
            shipping_line_code=_text(shipping, "code", "shipping line") if shipping else None,
            shipping_line_title=_text(shipping, "title", "shipping line") if shipping else None,
            email=_text(payload, "email", "order"),
            phone=_text(payload, "phone", "order"),
            shipping_address=(
                ShippingAddress(**{f: _text(address, k, "shipping_address") for f, k in _ADDRESS.items()})
                if address is not None
                else None
            ),
            total=_money(payload, "total_price", "order"),
            currency=_required_text(payload, "currency", "order"),
            lines=tuple(_line(raw) for raw in _list(payload, "line_items", "order")),
        )
    except ValidationError as error:
        raise BodyRefused(f"not a valid order: {error.errors()[0].get('msg')}") from error


def _encodable(payload: Mapping[str, Any]) -> None:
    """Refuse text with no UTF-8 form (a lone surrogate escape such as `\\udc80`: valid JSON, which
    the receiver stores): the ledger cannot hold it, and Shopify's own copy, read by id, is text."""
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        bad = error.object[error.start : error.end]
        raise BodyRefused(f"it holds text with no UTF-8 form ({bad!r})") from None


def _line(raw: Any) -> ShopLine:
    line = _object(raw, "line item")
    where = f"line item {line.get('id')}"
    if "sales_line_item_group_id" not in line:
        raise BodyRefused(f"{where} has no sales_line_item_group_id: it may be a bundle component")
    if line["sales_line_item_group_id"] is not None:
        raise BodyRefused(f"{where} is a bundle component")
    lid = _required_text(line, "admin_graphql_api_id", where)
    if not _LINE_GID.fullmatch(lid):
        raise BodyRefused(f"{where} admin_graphql_api_id {lid!r} is no line item id")
    quantity = _get(line, "current_quantity", where)
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise BodyRefused(f"{where} current_quantity {quantity!r} is not a whole number")
    ordered = line.get("quantity")  # units ordered, refunded and removed ones included
    if ordered is not None and (
        not isinstance(ordered, int) or isinstance(ordered, bool) or ordered < quantity
    ):
        raise BodyRefused(f"{where} quantity {ordered!r} is not a whole number of at least current_quantity")
    return ShopLine(
        id=lid,
        sku=_text(line, "sku", where),
        quantity=quantity,
        ordered_quantity=ordered,
        requires_shipping=_flag(line, "requires_shipping", where),
        is_gift_card=_flag(line, "gift_card", where),
        unit_price=_money(line, "price", where),
        name=_required_text(line, "name", where),
    )


def _get(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise BodyRefused(f"{where} has no {key!r}")
    return obj[key]


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BodyRefused(f"{where} is not an object")
    return value


def _list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = _get(obj, key, where)
    if not isinstance(value, list):
        raise BodyRefused(f"{where} {key!r} is not a list")
    return value


def _text(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = _get(obj, key, where)
    if value is not None and not isinstance(value, str):
        raise BodyRefused(f"{where} {key!r} is not text")
    return value


def _required_text(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = _text(obj, key, where)
    if value is None:
        raise BodyRefused(f"{where} {key!r} is null")
    return value


def _flag(obj: Mapping[str, Any], key: str, where: str) -> bool:
    value = _get(obj, key, where)
    if not isinstance(value, bool):
        raise BodyRefused(f"{where} {key!r} is not true or false")
    return value


def _moment(obj: Mapping[str, Any], key: str, where: str, optional: bool = False) -> datetime | None:
    value = _text(obj, key, where)
    if value is None:
        if optional:
            return None
        raise BodyRefused(f"{where} {key!r} is null")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise BodyRefused(f"{where} {key!r} {value!r} is not a timestamp") from error
    if moment.tzinfo is None:
        raise BodyRefused(f"{where} {key!r} {value!r} has no UTC offset")
    return moment.astimezone(UTC)


def _money(obj: Mapping[str, Any], key: str, where: str) -> Decimal:
    """`<key>_set.shop_money.amount` when the body has it (the shop's currency), else `<key>`."""
    bag = obj.get(f"{key}_set")
    if isinstance(bag, Mapping) and isinstance(bag.get("shop_money"), Mapping):
        raw = bag["shop_money"].get("amount")
    else:
        raw = _get(obj, key, where)
    try:
        amount = Decimal(raw) if isinstance(raw, str) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise BodyRefused(f"{where} {key!r} {raw!r} is not an amount")
    return amount


def _tags(payload: Mapping[str, Any]) -> tuple[str, ...]:
    """REST's tags are one comma-separated string; GraphQL's a list, in the same order (assumed:
    both render the one stored list; the sandbox sorts both). A tag cannot contain a comma."""
    raw = _text(payload, "tags", "order") or ""
    return tuple(tag.strip() for tag in raw.split(",") if tag.strip())


def _attribute(raw: Any) -> Attribute:
    attribute = _object(raw, "note attribute")
    name = _required_text(attribute, "name", "note attribute")
    value = attribute.get("value")
    if value is not None and not isinstance(value, str):
        # REST may carry a number; GraphQL's Attribute.value is a String: stricter to read it.
        raise BodyRefused(f"note attribute {name!r} value is not text")
    return Attribute(key=name, value=value)
