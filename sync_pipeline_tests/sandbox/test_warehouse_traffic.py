"""The demo's deliveries: real goods-in on the Peoplevox sandbox, each raising AvailabilityChanges,
until stopped."""

from __future__ import annotations

import random
import threading
import time

from sync_pipeline.sandbox.peoplevox.app import create_app
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl
from sync_pipeline.sandbox.server import serve_in_thread
from sync_pipeline.sandbox.warehouse_traffic import SITE, run_warehouse

CODES = ["TEE-BLK-M", "CAP-BLK-OS"]


def test_deliveries_raise_stock_and_availability_changes_until_stopped() -> None:
    app = create_app(PeoplevoxSandboxConfig())
    with serve_in_thread(app) as url, PeoplevoxControl(url) as pvx:
        pvx.seed_items([(c, f"50{i:011d}", c) for i, c in enumerate(CODES)])
        pvx.set_stock([(c, SITE, 10) for c in CODES])
        stop = threading.Event()
        found: dict[str, object] = {}
        worker = threading.Thread(
            target=lambda: found.update(
                report=run_warehouse(pvx, CODES, 0.05, stop, random.Random(1), log=False)
            )
        )
        worker.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(pvx.state().goods_in) < 3:
            time.sleep(0.05)
        stop.set()
        worker.join(timeout=10)
        state = pvx.state()
        report = found["report"]
        assert report.goods_in == len(state.goods_in) >= 3 and not report.errors  # type: ignore[attr-defined]
        received = sum(g["quantity"] for g in state.goods_in)
        assert sum(s.on_hand for s in state.stock if s.site == SITE) == 20 + received
        assert state.emitted.get("AvailabilityChanges", 0) >= report.goods_in  # type: ignore[attr-defined]
