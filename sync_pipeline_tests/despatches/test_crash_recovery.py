"""A despatches run killed after Shopify created a fulfilment, before the ledger recorded it.

The run is a real separate process, killed with SIGKILL while Shopify holds the answer to a
fulfillmentCreate it has already applied (and the shipping email it already sent); calls for
other orders may have been answered and not yet recorded. The next run must find every such
fulfilment from the write-ahead record instead of creating a second one: one fulfilment and one
email per package.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec, ProductSpec, VariantSpec
from sync_pipeline_tests.orders.harness import REPO_ROOT, e2e_stack
from sync_pipeline_tests.orders.test_end_to_end import UK

ORDERS = 4


@pytest.mark.timeout(300)
def test_killed_fulfil_run_creates_no_second_fulfilment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with e2e_stack(tmp_path, monkeypatch, 1, FaultSettings()) as stack:
        settings = tmp_path / "config" / "despatches.yaml"
        settings.write_text(
            settings.read_text().replace(
                "unknown_outcome_settle_seconds: 60", "unknown_outcome_settle_seconds: 0"
            )
        )
        stack.shop.add_product(ProductSpec(title="Cap", variants=[VariantSpec(sku="CAP-BLK-OS")]))
        stack.pvx.seed_items([("CAP-BLK-OS", "5012345678901", "Cap")])
        stack.pvx.set_stock([("CAP-BLK-OS", "PrimarySite", 100)])
        placed = [
            stack.shop.place_order(
                OrderSpec(lines=[LineSpec(sku="CAP-BLK-OS", quantity=2)], shipping_address=UK)
            )
            for _ in range(ORDERS)
        ]
        stack.wait_for_webhooks()
        assert stack.tick("shopify_order_events") == 1
        time.sleep(1.5)
        assert stack.tick("orders_release_due") == 1
        for p in placed:
            stack.pvx.despatch(f"SHP-{p['legacy_id']}", [{"CAP-BLK-OS": 1}, {"CAP-BLK-OS": 1}])

        # Shopify applies the first fulfillmentCreate, sends its email, then holds the answer.
        stack.shop.set_faults(FaultSettings(lose_answer_next=1, lose_answer_seconds=120))
        worker = subprocess.Popen(
            [sys.executable, "-m", "sync_pipeline_tests.despatches.despatch_once"],
            cwd=REPO_ROOT,
            env=dict(os.environ),
        )
        try:
            deadline = time.monotonic() + 120
            while not stack.shop.emails():
                assert worker.poll() is None, "the despatches run ended before Shopify fulfilled anything"
                assert time.monotonic() < deadline, "no fulfilment reached Shopify"
                time.sleep(0.1)
            worker.send_signal(signal.SIGKILL)
        finally:
            worker.wait(timeout=30)
        stack.shop.set_faults(FaultSettings())

        with stack.ledger.transaction() as con:
            at_kill = dict(
                con.execute("SELECT state, count(*) FROM shopify_fulfilments GROUP BY state").fetchall()
            )
        # Every package was written ahead before any call. Calls run in parallel across orders, so
        # Shopify may have made more than the one whose answer it held: whatever it made that the
        # ledger did not record as created is still `sending`, to be looked up. A request the killed
        # run had already sent may still be applied after the kill: count once Shopify is quiet.
        made, quiet_since = len(stack.shop.emails()), time.monotonic()
        while time.monotonic() - quiet_since < 3:
            time.sleep(0.5)
            if (now_made := len(stack.shop.emails())) != made:
                made, quiet_since = now_made, time.monotonic()
        assert sum(at_kill.values()) == 2 * ORDERS and set(at_kill) <= {"sending", "created"}, at_kill
        unrecorded = made - at_kill.get("created", 0)
        assert 1 <= unrecorded <= at_kill["sending"], (made, at_kill)

        assert stack.tick("peoplevox_despatch_events") == 1
        for p in placed:
            order = stack.shop.get_order(p["id"])
            assert len(order["fulfillments"]) == 2, order["fulfillments"]
            assert order["fulfillment_status"] == "FULFILLED"
        emails = [e["fulfillment"] for e in stack.shop.emails()]
        assert len(emails) == 2 * ORDERS and len(set(emails)) == len(emails)  # one email per package
        with stack.ledger.transaction() as con:
            states = dict(
                con.execute("SELECT state, count(*) FROM shopify_fulfilments GROUP BY state").fetchall()
            )
            packages = dict(
                con.execute("SELECT state, count(*) FROM despatch_packages GROUP BY state").fetchall()
            )
        assert states == {"created": 2 * ORDERS} and packages == {"fulfilled": 2 * ORDERS}
        with stack.ledger.transaction() as con:
            found = con.execute(
                "SELECT count(*) FROM order_events WHERE reason LIKE '%after an unknown outcome%'"
            ).fetchone()
        # The ones Shopify had were adopted, not created again.
        assert found == (unrecorded,)
