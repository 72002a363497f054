"""A release run killed after Peoplevox accepted a batch, before the ledger recorded it.

The run is a real separate process, killed with SIGKILL while Peoplevox holds the answer to a
SaveData it has already applied. The next run must finish the job from the ledger's write-ahead
record: look the orders up, complete what is missing, and create no sales order twice.
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

ORDERS = 150  # two injection batches of 100 and 50 (orders.yaml's 500 set to 100 below)
HOLD_SECONDS = 1


@pytest.mark.timeout(300)
def test_killed_release_run_finishes_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with e2e_stack(tmp_path, monkeypatch, HOLD_SECONDS, FaultSettings()) as stack:
        # Two batches, so the crash falls between a batch Peoplevox applied and one never sent.
        orders_yaml = tmp_path / "config" / "orders.yaml"
        text = orders_yaml.read_text()
        assert "injection_batch_rows: 500" in text
        orders_yaml.write_text(text.replace("injection_batch_rows: 500", "injection_batch_rows: 100"))
        for sku in ("TEE-BLK-M", "CAP-BLK-OS"):
            stack.shop.add_product(ProductSpec(title=sku, variants=[VariantSpec(sku=sku)]))
        stack.pvx.seed_items([("TEE-BLK-M", "5012345678900", "Tee"), ("CAP-BLK-OS", "5012345678901", "Cap")])
        stack.pvx.set_stock([(sku, "PrimarySite", 10_000) for sku in ("TEE-BLK-M", "CAP-BLK-OS")])
        placed = [
            stack.shop.place_order(
                OrderSpec(
                    lines=[LineSpec(sku="TEE-BLK-M", quantity=1 + i % 3), LineSpec(sku="CAP-BLK-OS")],
                    shipping_address=UK,
                )
            )
            for i in range(ORDERS)
        ]
        stack.wait_for_webhooks()
        assert stack.tick("shopify_order_events") == 1
        time.sleep(HOLD_SECONDS + 0.5)

        # Peoplevox applies the first SaveData (the first 100 headers) and then holds its answer.
        stack.pvx.set_faults(slow_save_next=1, slow_save_seconds=120)
        worker = subprocess.Popen(
            [sys.executable, "-m", "sync_pipeline_tests.orders.release_once"],
            cwd=REPO_ROOT,
            env=dict(os.environ),
        )
        try:
            deadline = time.monotonic() + 120
            while stack.pvx.state().counters.save_calls_total < 1:
                assert worker.poll() is None, "the release run ended before Peoplevox saw a save"
                assert time.monotonic() < deadline, "no SaveData reached Peoplevox"
                time.sleep(0.2)
            worker.send_signal(signal.SIGKILL)
        finally:
            worker.wait(timeout=30)
        stack.pvx.clear_faults()

        crashed = stack.pvx.state()
        assert len(crashed.orders) == 100 and all(not o.lines for o in crashed.orders)
        with stack.ledger.transaction() as con:
            in_doubt = con.execute("SELECT count(*) FROM pvx_injections WHERE state = 'sending'").fetchone()[
                0
            ]
        assert in_doubt == ORDERS  # the write-ahead record of everything the dead run meant to send

        assert stack.tick("orders_release_due") == 1
        final = stack.pvx.state()
        numbers = {f"SHP-{p['legacy_id']}": p for p in placed}
        assert {o.number for o in final.orders} == set(numbers)
        for order in final.orders:
            i = list(numbers).index(order.number)
            assert {line.item_code: line.quantity_ordered for line in order.lines} == {
                "TEE-BLK-M": 1 + i % 3,
                "CAP-BLK-OS": 1,
            }
        # No header was sent twice: 100 before the crash, only the 50 never sent after it.
        assert final.counters.save_rows["Sales orders"] == ORDERS
        assert final.counters.save_rows["Sales order items"] == 2 * ORDERS
        with stack.ledger.transaction() as con:
            states = dict(con.execute("SELECT state, count(*) FROM pvx_injections GROUP BY state").fetchall())
        assert states == {"accepted": ORDERS}
