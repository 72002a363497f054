"""The rehearsal's faults: the Peoplevox limiter fault bites whenever the product next calls, and
each fault's effects are counted from the sandboxes, a fault that touched nothing shown as such.

Real sandboxes over HTTP on 127.0.0.1 (Shopify as its own server, Peoplevox in this process as the
rehearsal runs it) and the product's own Peoplevox client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.rehearsal.faults import FaultInjector, Processes
from sync_pipeline.rehearsal.profile import ScheduledFault
from sync_pipeline.rehearsal.report import fault_line
from sync_pipeline.sandbox.peoplevox.app import create_app as create_pvx_app
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.server import BackgroundServer
from sync_pipeline.sandbox.shopify.app import create_app as create_shopify_app
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import SandboxControl

LIMIT, WINDOW = 4, 1.0  # a short window, so "after the window" is a second away


@dataclass
class Sandboxes:
    shop_url: str
    pvx_url: str
    pvx_state: Any

    def injector(self) -> FaultInjector:
        processes = Processes(run_workers=list, restart_daemon=lambda: "not here")
        return FaultInjector(
            SandboxControl(self.shop_url, timeout=30.0), self.pvx_state, processes, lambda _: None
        )

    def pvx(self) -> PeoplevoxClient:
        return PeoplevoxClient(self.pvx_url, "sandbox", "integration", "sandbox-password", LIMIT, WINDOW,
                               backoff_base=0.01)  # fmt: skip


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    shop = BackgroundServer(create_shopify_app(ShopifySandboxConfig(plan="plus"))).start()
    pvx_app = create_pvx_app(PeoplevoxSandboxConfig(requests_per_window=LIMIT, window_seconds=WINDOW))
    pvx = BackgroundServer(pvx_app).start()
    try:
        yield Sandboxes(shop.url, pvx.url, pvx_app.state.sandbox)
    finally:
        pvx.stop()
        shop.stop()


def test_the_limiter_fault_refuses_the_next_requests_even_when_none_came_in_its_window(
    sandboxes: Sandboxes,
) -> None:
    """Issue 13: the fault refused 12 requests in one rehearsal and none in the next, because it
    filled a window no request of the product fell into."""
    injector = sandboxes.injector()
    what = injector.apply(ScheduledFault(at=0, fault="pvx_limiter_refusals", count=3))
    time.sleep(WINDOW * 1.5)  # no Peoplevox traffic for longer than a window
    with sandboxes.pvx() as pvx:
        for _ in range(3):
            assert "ItemCode" in pvx.get_save_template("Item types")  # the client waits and retries
    assert sandboxes.pvx_state.counters.snapshot()["limiter_refused"] == 3, what
    assert sandboxes.pvx_state.limiter.refusing == 0


def _admin_call(shop_url: str) -> int:
    return httpx.post(f"{shop_url}/admin/api/2026-10/graphql.json", json={"query": "{ shop { name } }"},
                      headers={"X-Shopify-Access-Token": "shpat_sandbox"}, timeout=30).status_code  # fmt: skip


def test_each_fault_reports_its_effects_and_one_that_touched_nothing_says_so(sandboxes: Sandboxes) -> None:
    injector = sandboxes.injector()
    schedule = [
        ScheduledFault(at=0, fault="shopify_5xx", seconds=2.0, rate=1.0),
        ScheduledFault(at=0, fault="webhooks_dropped", seconds=1.0, rate=1.0),  # no webhook is sent
        ScheduledFault(at=0, fault="pvx_limiter_refusals", count=2),
        ScheduledFault(at=0, fault="callbacks_duplicated", seconds=1.0, rate=1.0),  # no subscription
    ]
    stop = threading.Event()
    runner = threading.Thread(target=injector.run, args=(schedule, time.monotonic(), stop), daemon=True)
    runner.start()
    deadline = time.monotonic() + 10
    while len(injector.injected) < len(schedule) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [_admin_call(sandboxes.shop_url) for _ in range(3)] == [503, 503, 503]
    with sandboxes.pvx() as pvx:
        pvx.get_save_template("Item types")
    runner.join(timeout=10)
    assert not runner.is_alive()
    injector.close_counts()
    reported = {x.fault: x.report for x in injector.injected}
    assert {f: (r["effects"], r["had_effect"]) for f, r in reported.items()} == {
        "shopify_5xx": (3, True),
        "webhooks_dropped": (0, False),
        "pvx_limiter_refusals": (2, True),
        "callbacks_duplicated": (0, False),
    }
    assert fault_line(reported["shopify_5xx"]).endswith("→ 3 calls answered 503")
    assert fault_line(reported["webhooks_dropped"]).endswith("→ **no effect**")
    assert _admin_call(sandboxes.shop_url) == 200  # put back after its seconds


def test_a_fault_the_rehearsal_stopped_before_is_reported_as_one_with_no_effect(sandboxes: Sandboxes) -> None:
    injector = sandboxes.injector()
    stop = threading.Event()
    stop.set()  # the peak is over before the fault's time
    injector.run([ScheduledFault(at=30, fault="pvx_session_expiry")], time.monotonic(), stop)
    [x] = [i.report for i in injector.injected]
    assert (x["fault"], x["effects"], x["had_effect"]) == ("pvx_session_expiry", 0, False)
    assert fault_line(x).endswith("not applied: the rehearsal stopped first → **no effect**")
