"""`sync-pipeline sandbox peoplevox`: run the Peoplevox sandbox on its own."""

from __future__ import annotations

import argparse

from sync_pipeline.sandbox.peoplevox.app import create_app
from sync_pipeline.sandbox.peoplevox.config import SAVE_RESULT_SHAPES, PeoplevoxSandboxConfig
from sync_pipeline.sandbox.peoplevox.limiter import LIMIT_SHAPES
from sync_pipeline.sandbox.server import serve_forever


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sync-pipeline sandbox peoplevox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8702)
    parser.add_argument("--client-id", default="sandbox")
    parser.add_argument("--username", default="integration")
    parser.add_argument("--password", default="sandbox-password")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=120.0,
        help="simulated warehouse seconds per real second (0 = only the control API moves time)",
    )
    parser.add_argument("--requests-per-window", type=int, default=15)
    parser.add_argument("--window-seconds", type=float, default=15.0)
    parser.add_argument(
        "--limit-shape", choices=LIMIT_SHAPES, default="detail", help="how the request limiter refuses"
    )
    parser.add_argument("--session-idle-timeout", type=float, default=1800.0)
    parser.add_argument("--short-pick-rate", type=float, default=0.05)
    parser.add_argument(
        "--save-result-shape",
        choices=SAVE_RESULT_SHAPES,
        default="positional",
        help="how SaveData reports per-row results",
    )
    parser.add_argument(
        "--late-tracking-rate", type=float, default=0.05, help="share of packages despatched without tracking"
    )
    parser.add_argument(
        "--tracking-delay",
        type=float,
        default=600.0,
        help="simulated seconds until a late tracking number comes",
    )
    parser.add_argument(
        "--no-cancel-by-import",
        dest="cancel_by_import",
        action="store_false",
        help="refuse SaveData Status=Cancelled (a tenant where only people cancel)",
    )
    parser.add_argument(
        "--report-status",
        action="append",
        default=[],
        metavar="STATUS=NAME",
        help="report an internal status under another name, e.g. 'Allocated=Awaiting stock' (repeatable)",
    )
    args = parser.parse_args(argv)
    renamed = dict(item.split("=", 1) for item in args.report_status if "=" in item)
    if len(renamed) != len(args.report_status):
        parser.error("--report-status takes STATUS=NAME")
    config = PeoplevoxSandboxConfig(
        client_id=args.client_id,
        username=args.username,
        password=args.password,
        time_scale=args.time_scale,
        requests_per_window=args.requests_per_window,
        window_seconds=args.window_seconds,
        limit_shape=args.limit_shape,
        save_result_shape=args.save_result_shape,
        session_idle_timeout=args.session_idle_timeout,
        short_pick_rate=args.short_pick_rate,
        late_tracking_rate=args.late_tracking_rate,
        tracking_delay=args.tracking_delay,
        cancel_by_import=args.cancel_by_import,
        reported_statuses=renamed,
    )
    print(
        f"Peoplevox sandbox: http://{args.host}:{args.port}/{args.client_id}/resources/integrationservicev4.asmx"
        f" (control API under /_sandbox)"
    )
    serve_forever(create_app(config), args.host, args.port)
    return 0
