"""`sync-pipeline subscribe`: register Shopify webhooks and Peoplevox event callbacks.

Both point at the receiver (`SYNC_RECEIVER_PUBLIC_URL`). Every subscription id is recorded in
the ledger's `subscriptions` table, because Peoplevox has no operation that lists them.
Running it again creates nothing new: a subscription already recorded is skipped. For Shopify,
which can list its webhooks, the store is the judge: one it already has is recorded, not
created again, and one recorded but gone from the store (a reset sandbox) is created again.

The Peoplevox callback URLs carry `SYNC_CALLBACK_TOKEN` (Peoplevox callbacks have no other
authentication). It is a secret: printed and stored only as `***`, at least 32 characters.

Because the ledger holds only the redacted URL, a plain run cannot tell that the token
changed. After setting a new token (and restarting the receiver with it), run
`sync-pipeline subscribe --rotate`: it subscribes every Peoplevox callback with the new token
and records the new ids, then unsubscribes every previously recorded Peoplevox subscription
(which carries the old, possibly leaked, token) and marks it retired. Subscribing first means
no gap in which Peoplevox calls nobody; a rotation that fails half-way can simply be run
again (the next run retires whatever the failed one left behind).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from urllib.parse import quote

from pydantic import ValidationError

from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import subscriptions as ledger_subscriptions
from sync_pipeline.lib.peoplevox import (
    PeoplevoxAuthError,
    PeoplevoxClient,
    PeoplevoxError,
    PeoplevoxSessionError,
    PeoplevoxUnavailable,
)
from sync_pipeline.lib.peoplevox.callbacks import SUBSCRIBED
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.settings import PeoplevoxSettings, ShopifySettings, SyncSettings

# The order topics wake ingest; BULK_OPERATIONS_FINISH says a backfill's bulk read ended (the
# bulk client polls the operation too, so a lost one costs only a later wake-up, not data).
ORDER_TOPICS = ("ORDERS_PAID", "ORDERS_UPDATED", "ORDERS_EDITED", "ORDERS_CANCELLED")
SHOPIFY_TOPICS = (*ORDER_TOPICS, "BULK_OPERATIONS_FINISH")
REDACTED = "***"


@dataclass(frozen=True)
class Wanted:
    system: str  # shopify | peoplevox
    topic: str
    url: str  # what the system calls; may hold the secret token
    target: str  # the same URL with the token redacted: the only form we print or store


def wanted_subscriptions(public_url: str, token: str) -> list[Wanted]:
    base = public_url.rstrip("/")
    webhook = f"{base}/webhooks/shopify"
    wanted = [Wanted("shopify", topic, webhook, webhook) for topic in SHOPIFY_TOPICS]
    # Query strings use confirmed placeholders only (lib/peoplevox/callbacks.py).
    for event, layout in SUBSCRIBED.items():
        template = f"{base}/callbacks/peoplevox/{{token}}/{event}?{layout.query}"
        url = template.replace("{token}", quote(token, safe=""))
        wanted.append(Wanted("peoplevox", event, url, template.replace("{token}", REDACTED)))
    return wanted


@dataclass
class SubscribeReport:
    created: list[Wanted]
    adopted: list[Wanted]  # already in Shopify, now recorded
    skipped: list[Wanted]  # already recorded
    # Peoplevox subscriptions unsubscribed by a rotation: (topic, id, note).
    retired: list[tuple[str, str, str]] = field(default_factory=list)


def subscribe(
    shopify: ShopifyClient,
    peoplevox: PeoplevoxClient,
    ledger: Ledger,
    wanted: list[Wanted],
    rotate: bool = False,
) -> SubscribeReport:
    """Create what is missing and record each id as soon as it exists (no network inside a
    ledger transaction, and a failure half-way leaves every created id recorded).

    `rotate`: the callback token changed. Every Peoplevox callback is subscribed anew and
    every Peoplevox subscription recorded before this run is then unsubscribed and retired."""
    report = SubscribeReport([], [], [])
    with ledger.transaction() as con:
        active = [r for r in ledger_subscriptions.list_all(con) if r.active]
    recorded = {(r.system, r.topic, r.target) for r in active}
    if rotate:
        recorded = {key for key in recorded if key[0] != "peoplevox"}
    in_shopify = {(s.topic, s.uri): s.id for s in shopify.list_webhook_subscriptions()}
    for item in wanted:
        key = (item.system, item.topic, item.target)
        if item.system == "shopify":
            existing = in_shopify.get((item.topic, item.url))
            if existing is not None:
                (report.skipped if key in recorded else report.adopted).append(item)
                if key not in recorded:
                    _record(ledger, item, existing)
                continue
            subscription_id = shopify.create_webhook_subscription(item.topic, item.url).id
        else:
            if key in recorded:
                report.skipped.append(item)
                continue
            subscription_id = str(peoplevox.subscribe_event(item.topic, item.url))
        _record(ledger, item, subscription_id)
        report.created.append(item)
    if rotate:
        for old in (r for r in active if r.system == "peoplevox"):
            report.retired.append(
                (old.topic, old.subscription_id, _unsubscribe(peoplevox, old.subscription_id))
            )
            with ledger.transaction() as con:
                ledger_subscriptions.retire(con, "peoplevox", old.subscription_id)
    return report


def _unsubscribe(peoplevox: PeoplevoxClient, subscription_id: str) -> str:
    try:
        peoplevox.unsubscribe_event(int(subscription_id))
    except (PeoplevoxAuthError, PeoplevoxSessionError, PeoplevoxUnavailable):
        raise  # not about this subscription: stop; running --rotate again finishes the job
    except PeoplevoxError as error:
        # Peoplevox refused it, typically because it no longer exists (a reset tenant).
        return f"Peoplevox refused the unsubscribe ({error}); recorded as retired"
    return "unsubscribed"


def _record(ledger: Ledger, item: Wanted, subscription_id: str) -> None:
    with ledger.transaction() as con:
        ledger_subscriptions.record(con, item.system, item.topic, subscription_id, item.target)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="sync-pipeline subscribe",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rotate",
        action="store_true",
        help="SYNC_CALLBACK_TOKEN changed: subscribe the Peoplevox callbacks with the new token, "
        "then unsubscribe the recorded ones (old token) and record both",
    )
    args = parser.parse_args(argv)
    try:
        shopify_settings, pvx_settings, sync = ShopifySettings(), PeoplevoxSettings(), SyncSettings()
    except ValidationError as error:
        print(f"subscribe: configuration problem: {error}", file=sys.stderr)
        return 2
    if sync.callback_token is None:
        print("subscribe: SYNC_CALLBACK_TOKEN is not set; Peoplevox callbacks need it", file=sys.stderr)
        return 2
    wanted = wanted_subscriptions(sync.receiver_public_url, sync.callback_token.get_secret_value())
    shopify = ShopifyClient(
        shopify_settings.shop_url,
        shopify_settings.access_token.get_secret_value(),
        api_version=shopify_settings.api_version,
    )
    peoplevox = PeoplevoxClient(
        pvx_settings.base_url,
        pvx_settings.client_id,
        pvx_settings.username,
        pvx_settings.password.get_secret_value(),
        requests_per_window=pvx_settings.requests_per_window,
        window_seconds=pvx_settings.window_seconds,
        pacer=pvx_settings.shared_pacer(sync.data_dir),
    )
    with shopify, peoplevox:
        report = subscribe(shopify, peoplevox, Ledger(sync.ledger_path), wanted, rotate=args.rotate)
    for label, items in (
        ("created", report.created),
        ("recorded", report.adopted),
        ("already there", report.skipped),
    ):
        for item in items:
            print(f"subscribe: {label}: {item.system} {item.topic} → {item.target}")
    for topic, subscription_id, note in report.retired:
        print(f"subscribe: retired: peoplevox {topic} subscription {subscription_id}: {note}")
    return 0
