"""`make demo` reconciles stock once at start: before the first sale Shopify shows what the
warehouse holds (less buffers), not the 1,000 units the catalogue was seeded with.

The demo's own startup list is run, in process, against both sandboxes seeded as the demo seeds
them (a smaller catalogue); `dg launch` itself is not started (it would cost a code-server start
per job for no extra evidence)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sync_pipeline import demo
from sync_pipeline.demo import startup_commands, startup_jobs
from sync_pipeline.lib.ledger import stock_levels
from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.traffic import seed_catalogue
from sync_pipeline_tests.orders.harness import e2e_stack

SEEDED = 1000  # what seed_catalogue gives every Shopify SKU


def test_the_demo_launches_each_startup_job_with_its_partition() -> None:
    now = datetime(2026, 11, 30, 7, 42, tzinfo=UTC)
    commands = startup_commands("sync-pipeline", "dg", now)
    assert commands[0] == ["sync-pipeline", "subscribe"]
    assert commands[1:] == [
        ["dg", "launch", "--job", "catalogue_job"],
        ["dg", "launch", "--job", "stock_reconcile_job", "--partition", "2026-11-30-07:00"],
    ]
    assert startup_jobs(now) == [("catalogue_job", None), ("stock_reconcile_job", "2026-11-30-07:00")]


@pytest.mark.timeout(240)
def test_the_demo_starts_with_the_warehouse_stock_in_shopify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with e2e_stack(tmp_path, monkeypatch, 30, FaultSettings()) as stack:
        seed_catalogue(stack.shop, stack.pvx, 20, random.Random(7), Path(os.environ["SYNC_CONFIG_DIR"]))
        assert SEEDED in {s["available"] for s in stack.shop.stock()}
        for job, partition in startup_jobs(datetime.now(UTC)):
            result = stack.definitions.resolve_job_def(job).execute_in_process(
                instance=stack.instance, partition_key=partition, raise_on_error=False
            )
            assert result.success, f"{job} failed at the demo's start"

        warehouse = {(s.item_code, s.site): s.available for s in stack.pvx.state().stock}
        shown = {s["sku"]: s["available"] for s in stack.shop.stock() if s["location"] == "Warehouse"}
        with stack.ledger.transaction() as con:
            positions = stock_levels.positions(con)
        assert len(positions) >= 10, "the reconcile published too few listings"
        direct = 0
        for (sku, _), position in positions.items():
            assert shown[sku] == position.target, sku
            assert position.reserved == 0, sku  # no order yet
            if (sku, position.site) in warehouse:  # a SKU that is its own Peoplevox item
                direct += 1
                expected = max(0, warehouse[(sku, position.site)] - position.buffer)
                assert position.target == expected, sku
        assert direct >= 10
        # Every SKU the warehouse stocks shows the warehouse's figure now, not the seeded one.
        assert sum(1 for (sku, _), p in positions.items() if shown[sku] != SEEDED) == len(positions)


def test_demo_main_runs_exactly_the_startup_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The list tested above is the one `make demo` runs: main with its children and the seeding
    stubbed out (no sandbox, no Dagster), stopped where the traffic generator would start."""
    ran: list[list[str]] = []
    started: list[str] = []

    def fake_start(name: str, command: list[str], env: dict[str, str], **_: object) -> demo.Child:
        if name == "traffic generator":
            raise RuntimeError("the test stops here")
        started.append(name)
        return demo.Child(name, None)  # type: ignore[arg-type]  # never polled: _stop is stubbed

    def fake_run(step: list[str], **_: object) -> subprocess.CompletedProcess[bytes]:
        ran.append(step)
        return subprocess.CompletedProcess(step, 0)

    monkeypatch.setattr(demo, "_start", fake_start)
    monkeypatch.setattr(demo, "_stop", lambda children: None)
    monkeypatch.setattr(demo, "_wait_until_up", lambda children, urls: None)
    monkeypatch.setattr(demo, "_seed", lambda env, seed, rules_dir: None)
    monkeypatch.setattr(demo.subprocess, "run", fake_run)
    handler = signal.getsignal(signal.SIGTERM)
    try:
        before = datetime.now(UTC)
        assert demo.main(["--data-dir", str(tmp_path)]) == 1
        after = datetime.now(UTC)
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert started == ["Shopify sandbox", "Peoplevox sandbox", "receiver"]
    cli, dg = str(Path(sys.executable).parent / "sync-pipeline"), str(Path(sys.executable).parent / "dg")
    assert ran in (startup_commands(cli, dg, before), startup_commands(cli, dg, after))
