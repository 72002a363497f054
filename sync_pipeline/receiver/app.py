"""The receiver: Shopify webhooks and Peoplevox callbacks in, durable inbox files out.

- `POST /webhooks/shopify`: HMAC-SHA256 of the raw body with the app secret must match
  `X-Shopify-Hmac-SHA256` (constant-time); otherwise 401, logged and recorded in
  `inbox/rejected.jsonl`. A signed webhook must also name the configured shop in
  `X-Shopify-Shop-Domain` (its permanent `brand.myshopify.com` domain, compared without case):
  one app's secret signs the webhooks of every shop it is installed on, so a webhook of another
  shop (403) or one that names none (400) is refused and recorded like any other refusal. A repeat of the same event (`X-Shopify-Topic` + `X-Shopify-Event-Id`,
  Shopify's guidance for duplicates, which may come with a fresh `X-Shopify-Webhook-Id`) is
  answered 200 and ignored; without an event id, the webhook id is the key.
- `GET|POST /callbacks/peoplevox/{token}/{event}`: Peoplevox callbacks carry no
  authentication, so the subscription URL carries a secret token, compared in constant time.
  The parameters are stored exactly as they came; `unfilled` lists those still holding a
  literal `{Placeholder}` (a tenant that does not know it). A repeat is ignored only when its
  event names one change (lib/peoplevox/callbacks.py `dedupe_key`): an availability callback
  with the same values as an earlier one is a new change, not a duplicate.
- Hostile traffic: a body larger than `MAX_BODY_BYTES` is refused (413) on its `Content-Length`
  before a byte is read, and a body streamed without one stops being read at the cap, so memory
  stays flat whatever is sent. Refusals go to `inbox/rejected.jsonl`, bounded (repeats counted,
  file rotated: lib/rejections.py).
- The event is fsynced to the inbox before we answer, and nothing slower happens in the
  request: Shopify gives a webhook 5 s. The write runs in a worker thread, so a slow fsync (a
  busy disk) holds up only its own request, never the event loop answering the others. Polling stays the source of truth; events only make
  the sync faster.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.peoplevox import callbacks
from sync_pipeline.lib.shopify.webhooks import verify_webhook
from sync_pipeline.settings import check_callback_token

log = logging.getLogger("sync_pipeline.receiver")

PEOPLEVOX_EVENTS = (
    "AvailabilityChanges",
    "SalesOrderStatusChanges",
    "TrackingNumberReceived",
    "GoodsReceived",
    "Returns",
    "IncrementalChanges",
)
MAX_BODY_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class ReceiverConfig:
    inbox_dir: Path
    shopify_webhook_secret: str
    callback_token: str
    shop_domain: str  # the shop's permanent domain, as X-Shopify-Shop-Domain names it


def _reject(
    inbox: Inbox, source: str, status: int, reason: str, detail: dict[str, Any], error: str = ""
) -> PlainTextResponse:
    """Refuse with a fixed `reason` (repeats of it are counted as one kind); `error` says more."""
    if inbox.record_rejection(source, reason, {**detail, **({"error": error} if error else {})}, status):
        # Logged once per kind and window, like the file: a flood must not flood the log either.
        log.warning("rejected %s event (%s): %s %s", source, status, reason, error)
    return PlainTextResponse(f"{reason}: {error}" if error else reason, status_code=status)


class BodyTooLarge(Exception):
    """The body is over the cap: refused without reading (or reading) the rest."""


async def read_capped(request: Request, cap: int = MAX_BODY_BYTES) -> bytes:
    """The body, or BodyTooLarge as soon as it is known to exceed `cap` (by header or while streaming)."""
    declared = request.headers.get("content-length")
    # The server (h11) has already refused a Content-Length that is not a number.
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge(f"Content-Length {int(declared):,} bytes is over the {cap:,}-byte cap")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge(f"body passed the {cap:,}-byte cap while streaming; the rest was not read")
        chunks.append(chunk)
    return b"".join(chunks)


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _not_stored(source: str, error: OSError) -> PlainTextResponse:
    # The inbox removed its duplicate marker, so the sender's retry will be stored, not ignored.
    log.error("could not store a %s event, asking the sender to retry: %s", source, error)
    return PlainTextResponse("event not stored; retry", status_code=503)


def create_app(config: ReceiverConfig) -> Starlette:
    check_callback_token(config.callback_token)  # a short token is refused, not served
    if not config.shopify_webhook_secret.strip():
        raise ValueError("the Shopify webhook secret must not be empty: anyone could sign with it")
    shop_domain = config.shop_domain.strip().lower()
    if not shop_domain:
        raise ValueError("the shop domain must not be empty: webhooks of any shop would be taken")
    inbox = Inbox(config.inbox_dir)
    secret = config.shopify_webhook_secret
    token = config.callback_token.encode("utf-8")

    async def shopify_webhook(request: Request) -> PlainTextResponse:
        topic = request.headers.get("x-shopify-topic", "")
        webhook_id = request.headers.get("x-shopify-webhook-id", "")
        detail: dict[str, Any] = {"topic": topic, "webhook_id": webhook_id, "client": _client(request)}
        try:
            raw = await read_capped(request)
        except BodyTooLarge as error:
            return _reject(inbox, "shopify", 413, "webhook body too large", detail, str(error))
        detail["bytes"] = len(raw)
        if not verify_webhook(raw, request.headers.get("x-shopify-hmac-sha256"), secret):
            reason = (
                "missing HMAC signature"
                if "x-shopify-hmac-sha256" not in request.headers
                else "bad HMAC signature"
            )
            return _reject(inbox, "shopify", 401, reason, detail)
        if not topic or not webhook_id:
            return _reject(inbox, "shopify", 400, "missing X-Shopify-Topic or X-Shopify-Webhook-Id", detail)
        named = request.headers.get("x-shopify-shop-domain")
        if named is None or not named.strip():
            return _reject(inbox, "shopify", 400, "missing X-Shopify-Shop-Domain", detail)
        if named.strip().lower() != shop_domain:
            # Signed with our secret, for a shop this receiver does not serve (the app is installed
            # there too): taking it would put that shop's orders into this brand's ledger.
            detail["shop_domain"] = named
            return _reject(inbox, "shopify", 403, "webhook for another shop", detail,
                           f"X-Shopify-Shop-Domain {named[:100]!r} is not {shop_domain!r}")  # fmt: skip
        try:
            payload = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return _reject(inbox, "shopify", 400, "body is not JSON", detail, str(error))
        if not isinstance(payload, dict):
            return _reject(inbox, "shopify", 400, "body is not a JSON object", detail)
        event_id = request.headers.get("x-shopify-event-id", "")
        event = {
            "topic": topic,
            "webhook_id": webhook_id,
            "event_id": event_id or None,
            "triggered_at": request.headers.get("x-shopify-triggered-at"),
            "api_version": request.headers.get("x-shopify-api-version"),
            "payload": payload,
        }
        key = f"event:{topic}:{event_id}" if event_id else f"webhook:{webhook_id}"
        try:
            stored = await run_in_threadpool(inbox.write, "shopify", event, dedupe_key=key)
        except OSError as error:
            return _not_stored("shopify", error)
        return PlainTextResponse("ok" if stored else "duplicate ignored")

    async def peoplevox_callback(request: Request) -> PlainTextResponse:
        given = request.path_params["token"].encode("utf-8")
        event_type = request.path_params["event"]
        detail = {"event": event_type, "client": _client(request)}
        if not token or not hmac.compare_digest(given, token):
            return _reject(inbox, "peoplevox", 401, "bad callback token", detail)
        if event_type not in PEOPLEVOX_EVENTS:
            return _reject(inbox, "peoplevox", 404, "unknown Peoplevox event", detail)
        params: dict[str, str] = dict(request.query_params)
        if request.method == "POST":
            try:
                raw = await read_capped(request)
            except BodyTooLarge as error:
                return _reject(inbox, "peoplevox", 413, "callback body too large", detail, str(error))
            # Peoplevox posts `postParams` form-encoded (key=value&…); parsed here directly
            # rather than through a multipart parser we would otherwise need to install.
            try:
                params.update(
                    parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
                )
            except (UnicodeDecodeError, ValueError) as error:
                return _reject(
                    inbox, "peoplevox", 400, "callback body is not form-encoded", detail, str(error)
                )
        if not params:
            return _reject(inbox, "peoplevox", 400, "callback carried no parameters", detail)
        event = {"event": event_type, "params": params, "unfilled": callbacks.unfilled(params)}
        try:
            stored = await run_in_threadpool(
                inbox.write, "peoplevox", event, dedupe_key=callbacks.dedupe_key(event_type, params)
            )
        except OSError as error:
            return _not_stored("peoplevox", error)
        return PlainTextResponse("ok" if stored else "duplicate ignored")

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async def flush_counts() -> None:
            while True:
                await asyncio.sleep(inbox.rejections.window_seconds)
                inbox.rejections.flush()

        task = asyncio.create_task(flush_counts())
        try:
            yield
        finally:
            task.cancel()
            inbox.rejections.flush(everything=True)

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/webhooks/shopify", shopify_webhook, methods=["POST"]),
            Route("/callbacks/peoplevox/{token}/{event}", peoplevox_callback, methods=["GET", "POST"]),
            Route("/healthz", health, methods=["GET"]),
        ],
    )
