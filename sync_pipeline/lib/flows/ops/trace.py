"""An order's whole story from the ledger, as one timeline a CX person can read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sync_pipeline.lib.domain.currency import minor_units
from sync_pipeline.lib.domain.exception_catalogue import current_owner
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import trace as ledger_trace


class OrderNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class Moment:
    at: datetime
    area: str  # shopify | hold | warehouse | despatch | fulfilment | refund | return | exception
    what: str


# Which part of the order's journey an audit event belongs to, by its kind's prefix.
AREAS = (
    ("state_changed", "hold"),
    ("resend", "hold"),
    ("exception", "exception"),
    ("inject", "warehouse"),
    ("items_refused", "warehouse"),
    ("pvx_status", "warehouse"),
    ("change_", "warehouse"),
    ("despatch", "despatch"),
    ("fulfil", "fulfilment"),
    ("found_in_shopify", "fulfilment"),
    ("tracking", "fulfilment"),
    ("", "shopify"),  # paid, edited, address/lines changed, cancelled, refunded, seen
)


def load(ledger: Ledger, reference: str) -> dict[str, Any]:
    """The ledger's record of the order `reference` names; one short read transaction."""
    with ledger.transaction() as con:
        ids = ledger_trace.find_order_ids(con, reference)
        if len(ids) != 1:
            raise OrderNotFoundError(
                f"no order in the ledger matches {reference!r}"
                if not ids
                else f"{reference!r} matches {len(ids)} orders: {', '.join(ids)}; use the gid"
            )
        record = ledger_trace.order_record(con, ids[0])
    # Refund amounts as Shopify states them: the currency's own decimals, not the ledger's three.
    for r in record.get("refunds", []):
        r["p_total_refunded"] = _amount(r["p_total_refunded"], r["currency"], with_code=False)
        r["total_refunded"] = _amount(r["total_refunded"], r["shop_currency"], with_code=False)
    return record


def _items(raw: Any) -> str:
    items = json.loads(raw) if isinstance(raw, str) else raw or {}
    return ", ".join(f"{q} × {c}" for c, q in items.items())


def timeline(record: dict[str, Any]) -> list[Moment]:
    out: list[Moment] = []
    order = record["order"]
    if order.get("shopify_created_at"):
        out.append(Moment(order["shopify_created_at"], "shopify", f"order {order['order_name']} placed"))
    if order.get("first_seen_at"):
        out.append(Moment(order["first_seen_at"], "shopify", "first seen by the integration"))
    for e in record["events"]:
        area = next((a for prefix, a in AREAS if e["kind"].startswith(prefix)), "ledger")
        reason = f": {e['reason']}" if e.get("reason") else ""
        out.append(Moment(e["occurred_at"], area, f"{e['kind'].replace('_', ' ')}{reason} ({e['actor']})"))
    for i in record["injections"]:
        if i.get("first_attempt_at"):
            out.append(
                Moment(i["first_attempt_at"], "warehouse", f"sent to Peoplevox as {i['sales_order_number']}")
            )
        if i.get("confirmed_at"):
            out.append(
                Moment(
                    i["confirmed_at"], "warehouse", f"Peoplevox {i['state']} it (attempts: {i['attempts']})"
                )
            )
        elif i["state"] == "failed" and i.get("last_attempt_at"):
            out.append(
                Moment(
                    i["last_attempt_at"], "warehouse", f"Peoplevox refused it: {i.get('last_error') or '?'}"
                )
            )
    if order.get("pvx_status_at"):
        out.append(Moment(order["pvx_status_at"], "warehouse", f"warehouse status {order['pvx_status']}"))
    for p in record["packages"]:
        tracking = f", tracking {p['tracking_number']}" if p.get("tracking_number") else ", no tracking yet"
        out.append(
            Moment(p["despatched_at"], "despatch",
                   f"package {p['package_number']} despatched by {p.get('carrier') or '?'} ({_items(p['items'])}){tracking}"
                   f"; now {p['state'].replace('_', ' ')}")
        )  # fmt: skip
    for f in record["fulfilments"]:
        if f.get("created_at"):
            out.append(Moment(f["created_at"], "fulfilment",
                              f"Shopify fulfilment {f.get('fulfillment_name') or ''} for package {f['package_number']}"))  # fmt: skip
        elif f.get("last_error"):
            out.append(Moment(f["first_attempt_at"], "fulfilment",
                              f"fulfilment of package {f['package_number']} {f['state']}: {f['last_error']}"))  # fmt: skip
        if f.get("tracking_posted_at"):
            out.append(
                Moment(
                    f["tracking_posted_at"], "fulfilment", f"tracking {f.get('tracking_number')} in Shopify"
                )
            )
    out += _money_back(record)
    for x in record["exceptions"]:
        owner = current_owner(x["kind"], x["owner"])
        out.append(
            Moment(
                x["opened_at"],
                "exception",
                f"#{x['exception_id']} {x['kind']} opened for {owner}: {x['message']}",
            )
        )
        if x.get("resolved_at"):
            out.append(
                Moment(
                    x["resolved_at"],
                    "exception",
                    f"#{x['exception_id']} {x['kind']} closed: {x.get('resolution')}",
                )
            )
    return sorted(out, key=lambda m: m.at)


def _amount(value: Any, currency: str | None, with_code: bool = True) -> str:
    """The ledger keeps money to three decimals (migration 0013); shown with the currency's own."""
    if value is not None and currency:
        value = Decimal(str(value)).quantize(Decimal(1).scaleb(-minor_units(currency)))
    return f"{value} {currency or ''}".strip() if with_code else str(value)


def _money_back(record: dict[str, Any]) -> list[Moment]:
    """Refunds and returns as the finance flow read them: Shopify's refunds (amount in the customer's
    currency, and the shop's when it differs), Shopify's returns, and the warehouse's processed returns
    with their grading (reusable: back on sale through the stock flow; else written off)."""
    out: list[Moment] = []
    for r in record.get("refunds", []):
        amount = _amount(r["p_total_refunded"], r["currency"])
        if r["shop_currency"] != r["currency"]:
            amount += f" ({_amount(r['total_refunded'], r['shop_currency'])})"
        lines = ", ".join(
            f"{li['quantity']} × {li['sku'] or '(no SKU)'} {li['restock_type']}" for li in r["lines"] or []
        )
        what = f"refunded {amount}" + (f": {lines}" if lines else " (no line: shipping or an amount)")
        what += f"; note: {r['note']}" if r.get("note") else ""
        out.append(Moment(r["created_at"] or r["read_at"], "refund", what))
    for r in record.get("returns", []):
        what = f"Shopify return {r['name'] or r['return_id']} of {r['total_quantity']} unit(s), now {r['status']}"
        out.append(Moment(r["created_at"] or r["read_at"], "return", what))
        if r.get("closed_at"):
            out.append(
                Moment(r["closed_at"], "return", f"Shopify return {r['name'] or r['return_id']} closed")
            )
    by_code: dict[str, list[dict[str, Any]]] = {}
    for r in record.get("warehouse_returns", []):
        by_code.setdefault(r["return_code"], []).append(r)
    for code, items in by_code.items():
        graded = ", ".join(
            f"{i['quantity']} × {i['item_code']} {i['condition'] or 'ungraded'} "
            f"({'back on sale' if i['reusable'] else 'written off'})"
            for i in items
        )
        reason = items[0].get("reason")
        at = items[0]["returned_at"] or items[0]["first_seen_at"]
        what = f"warehouse processed return {code}: {graded}" + (f"; reason: {reason}" if reason else "")
        out.append(Moment(at, "return", what))
    return out
