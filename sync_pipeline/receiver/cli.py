"""`sync-pipeline receiver`: run the webhook/callback receiver in the foreground."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from sync_pipeline.receiver.app import ReceiverConfig, create_app
from sync_pipeline.sandbox.server import serve_forever
from sync_pipeline.settings import ShopifySettings, SyncSettings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sync-pipeline receiver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8703)
    args = parser.parse_args(argv)
    try:
        sync = SyncSettings()
        shopify = ShopifySettings()
    except ValidationError as error:
        print(f"receiver: configuration problem: {error}", file=sys.stderr)
        return 2
    try:
        shop_domain = shopify.webhook_shop_domain()
    except ValueError as error:
        print(f"receiver: configuration problem: {error}", file=sys.stderr)
        return 2
    if sync.callback_token is None:
        print("receiver: SYNC_CALLBACK_TOKEN is not set; Peoplevox callbacks need it", file=sys.stderr)
        return 2
    config = ReceiverConfig(
        inbox_dir=sync.inbox_dir,
        shopify_webhook_secret=shopify.webhook_secret.get_secret_value(),
        callback_token=sync.callback_token.get_secret_value(),
        shop_domain=shop_domain,
    )
    # No access log: Peoplevox callback URLs carry the secret token in their path.
    serve_forever(create_app(config), args.host, args.port, access_log=False)
    return 0
