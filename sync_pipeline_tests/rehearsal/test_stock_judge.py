"""The stock watcher judges each goods-in with the buffer of the push behind Shopify's figure: a
change the product published in peak mode (buffer + `extra_buffer`) is seen; a change that never
reached Shopify still counts, in peak mode too.

The live part runs the watcher's own threads against a real Shopify sandbox over HTTP and a real
Peoplevox warehouse model; the figures Shopify shows are set as the product's pushes would set them.
The judgement's inputs come from a real ledger file and a real Dagster instance.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
import pytest

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.ledger import Ledger, stock_pushes
from sync_pipeline.rehearsal import collect
from sync_pipeline.rehearsal.stock_judge import AppliedPush, figure_in_peak, rejudge, seen_at
from sync_pipeline.rehearsal.stock_watch import SITE, Change, Shared, goods_in, peak_buffers, poll
from sync_pipeline.sandbox.peoplevox.clock import SimClock
from sync_pipeline.sandbox.peoplevox.warehouse import Warehouse
from sync_pipeline.sandbox.server import BackgroundServer
from sync_pipeline.sandbox.shopify.app import create_app as create_shopify_app
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import ProductSpec, SandboxControl, StockSpec, VariantSpec
from sync_pipeline.settings import REPO_ROOT

RULES = load_business_rules(REPO_ROOT / "data" / "config")
T0 = datetime(2026, 11, 27, 9)
SKU = "REH-RESTOCK-000"


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _change(available: int, booked: float = 0.0) -> Change:
    """A goods-in leaving Peoplevox at `available`: default buffer 2, 4 in peak mode."""
    return Change(SKU, 100.0 + booked, available - 2, booked_at=_at(booked), peak_target=available - 4)


def test_the_rule_gives_the_watched_skus_their_peak_buffer() -> None:
    # The shipped stock_buffers.yaml: default 2, peak mode's extra 2 (the 24 changes of issue 13).
    assert peak_buffers([SKU], RULES.stock_buffers) == {SKU: 4}


def test_a_change_published_in_peak_mode_is_seen_when_that_push_shows() -> None:
    change = _change(available=20)
    pushes = [AppliedPush(_at(-30), 14, peak=False), AppliedPush(_at(3), 16, peak=True)]
    history = [(_at(-29), 14), (_at(4), 16)]
    assert seen_at(change, history, pushes) == _at(4)
    rejudge([change], {SKU: history}, {SKU: pushes})
    assert change.seen_after == pytest.approx(104.0)


def test_a_change_that_never_reached_shopify_counts_in_peak_mode_too() -> None:
    # Before the goods-in a non-peak push showed 18 − 2 = 16; the goods-in (+2 → 20) was never pushed.
    # 16 is the peak target of the new figure, but it is the old figure under the smaller buffer.
    change = _change(available=20)
    pushes = [AppliedPush(_at(-30), 16, peak=False), AppliedPush(_at(5), 30, peak=True)]  # another SKU's
    history = [(_at(-29), 16)]
    assert figure_in_peak(16, _at(10), pushes) is False
    assert seen_at(change, history, pushes) is None
    # A peak push that re-read before the goods-in (16 − 4 = 12) does not show it either.
    pushes.append(AppliedPush(_at(1), 12, peak=True))
    assert seen_at(change, [*history, (_at(2), 12)], pushes) is None
    rejudge([change], {SKU: [*history, (_at(2), 12)]}, {SKU: pushes})
    assert change.seen_after is None


def test_a_figure_no_known_peak_push_explains_is_judged_outside_peak_mode() -> None:
    # A run killed before it materialized left no mode: the stricter target decides.
    change = _change(available=20)
    assert seen_at(change, [(_at(4), 16)], [AppliedPush(_at(3), 16, peak=False)]) is None
    assert seen_at(change, [(_at(4), 18)], [AppliedPush(_at(3), 18, peak=False)]) == _at(4)
    # Before the goods-in Shopify already showed enough: seen at once, as the live poll would say.
    assert seen_at(change, [(_at(-9), 19)], [AppliedPush(_at(-10), 19, peak=False)]) == _at(0)


@pytest.fixture
def shop() -> Iterator[str]:
    server = BackgroundServer(create_shopify_app(ShopifySandboxConfig(plan="plus"))).start()
    try:
        control = SandboxControl(server.url, timeout=30.0)
        control.add_product(ProductSpec(title="Restocked", variants=[VariantSpec(sku=SKU, price="12.00")]))
        control.set_stock([StockSpec(sku=SKU, available=48, location="Warehouse")])  # 50 − buffer 2
        control.close()
        yield server.url
    finally:
        server.stop()


def test_the_live_watcher_lets_a_peak_figure_through_and_the_judge_decides(shop: str) -> None:
    warehouse = Warehouse(SimClock())
    warehouse.upsert_item(SKU, "58000000000001", SKU)
    warehouse.set_stock(SKU, SITE, 50)
    shared = Shared()
    poller = threading.Thread(target=poll, args=(shop, shared, 0.1), daemon=True)
    poller.start()
    try:
        goods_in(warehouse, shared, [SKU], {SKU: 2}, 100.0, 0.01, seed=1,
                 in_peak=peak_buffers([SKU], RULES.stock_buffers))  # fmt: skip
        (change,) = shared.changes
        available = warehouse.level(SKU, SITE).available
        assert (change.target, change.peak_target) == (available - 2, available - 4)
        time.sleep(0.5)
        assert shared.left() == 1  # Shopify still shows the figure from before the goods-in
        # The product, in peak mode, publishes the new figure with buffer 2 + 2.
        assert change.booked_at is not None
        sent = change.booked_at + timedelta(seconds=0.2)  # written ahead, before Shopify shows it
        with SandboxControl(shop, timeout=30.0) as control:
            control.set_stock([StockSpec(sku=SKU, available=available - 4, location="Warehouse")])
        deadline = time.monotonic() + 10
        while shared.left() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert shared.left() == 0  # the drain is not held up by a change the judge will count
    finally:
        shared.stop.set()
        poller.join(timeout=10)
    history = shared.shown_history[SKU]
    assert [v for _, v in history] == [48, available - 4]
    # Judged with the push behind the figure: made in peak mode, the change is seen …
    rejudge(shared.changes, shared.shown_history, {SKU: [AppliedPush(sent, available - 4, peak=True)]})
    assert change.seen_after is not None and 0 < change.seen_after - change.at < 10
    # … made outside peak mode (or by no push the ledger knows), the same figure misses 2 units.
    rejudge(shared.changes, shared.shown_history, {SKU: [AppliedPush(sent, available - 4, peak=False)]})
    assert change.seen_after is None
    rejudge(shared.changes, shared.shown_history, {})
    assert shared.unseen() == 1


def test_the_rehearsal_judges_with_the_ledgers_pushes_and_each_runs_peak_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`collect.judge_stock_changes` end to end: a real ledger file holding the pushes as the stock
    flow writes them ahead and settles them, a real Dagster instance holding each push run's
    `peak_mode` as its materialization."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    def push_run(peak: bool) -> str:
        @dg.asset(key=dg.AssetKey(["shopify", "inventory_levels"]))
        def inventory_levels() -> dg.MaterializeResult:
            return dg.MaterializeResult(metadata={"peak_mode": peak, "applied": 1})

        with dg.DagsterInstance.get() as instance:
            return dg.materialize([inventory_levels], instance=instance).run_id

    in_peak, outside = push_run(True), push_run(False)
    ledger = Ledger(tmp_path / "ledger.duckdb")
    other = "REH-RESTOCK-001"
    with ledger.transaction() as con:
        for key, sku, quantity, run_id, seconds in [
            ("k1", SKU, 16, in_peak, 3), ("k2", other, 16, outside, 3), ("k3", SKU, 99, "killed-run", 60),
        ]:  # fmt: skip
            intent = stock_pushes.PushIntent(sku, f"gid://shopify/InventoryItem/{sku}", "loc", None, quantity)
            stock_pushes.mark_sending_many(con, [(key, [intent])], run_id, _at(seconds))
            stock_pushes.settle_request(con, key, stock_pushes.APPLIED, _at(seconds + 1))
    assert collect.push_peak_modes(_world(tmp_path, home)) == {in_peak: True, outside: False}
    # The same goods-in on two SKUs, Shopify showing each the figure the push of that SKU wrote.
    stock = Shared(changes=[_change(20), Change(other, 100.0, 18, booked_at=T0, peak_target=16)])
    stock.shown_history = {SKU: [(_at(4), 16)], other: [(_at(4), 16)]}
    collect.judge_stock_changes(_world(tmp_path, home), stock)
    assert [c.seen_after for c in stock.changes] == [104.0, None]  # published in peak mode; not


def _world(tmp_path: Path, home: Path) -> Any:
    return SimpleNamespace(
        work=SimpleNamespace(ledger=tmp_path / "ledger.duckdb", dagster_home=home),
        restocked=[SKU, "REH-RESTOCK-001"],
    )
