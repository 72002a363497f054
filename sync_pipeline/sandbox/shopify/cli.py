"""`sync-pipeline sandbox shopify`: run the Shopify sandbox alone in the foreground."""

from __future__ import annotations

import argparse

from sync_pipeline.sandbox.server import serve_forever

from .app import create_app
from .config import PLANS, FaultSettings, ShopifySandboxConfig


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sync-pipeline sandbox shopify", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument("--plan", choices=sorted(PLANS), default="standard")
    parser.add_argument("--bucket-size", type=float, default=None)
    parser.add_argument("--restore-rate", type=float, default=None)
    parser.add_argument("--access-token", default="shpat_sandbox")
    parser.add_argument("--webhook-secret", default="sandbox-webhook-secret")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--timeout-rate", type=float, default=0.0)
    parser.add_argument("--webhook-drop-rate", type=float, default=0.0)
    parser.add_argument("--webhook-duplicate-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    config = ShopifySandboxConfig(
        access_token=args.access_token,
        webhook_secret=args.webhook_secret,
        plan=args.plan,
        bucket_size=args.bucket_size,
        restore_rate=args.restore_rate,
        faults=FaultSettings(
            latency_ms=args.latency_ms,
            error_rate=args.error_rate,
            timeout_rate=args.timeout_rate,
            webhook_drop_rate=args.webhook_drop_rate,
            webhook_duplicate_rate=args.webhook_duplicate_rate,
            seed=args.seed,
        ),
    )
    print(
        f"Shopify sandbox: http://{args.host}:{args.port}/admin/api/2026-10/graphql.json (plan {args.plan})"
    )
    serve_forever(create_app(config), args.host, args.port)
    return 0
