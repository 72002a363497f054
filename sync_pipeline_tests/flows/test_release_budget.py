"""Release under load, without the network: a run that has spent its time budget stops at a wave
boundary and leaves the rest due (nothing written ahead that was not sent); changes to orders
already in Peoplevox go in full requests, not one request per order; and ingest says, chunk by
chunk, when the orders it recorded come due (the release sensor wakes then)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.ingest import ingest, ingest_notified
from sync_pipeline.lib.flows.orders.observed import Recorded
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.lib.flows.orders.release.inject import BATCHES_PER_WAVE
from sync_pipeline_tests.domain.factories import T0
from sync_pipeline_tests.flows.standins.world import World

ROWS = 2  # rows per SaveData: small, so a wave is a handful of orders


def _world(tmp_path: Path) -> World:
    world = World(tmp_path, T0)
    world.rules = world.rules.with_orders(injection_batch_rows=ROWS)
    return world


def _states(world: World) -> dict[str, int]:
    with world.ledger.transaction() as con:
        return dict(con.execute("SELECT state, count(*) FROM orders GROUP BY state").fetchall())


def _sending(world: World) -> int:
    with world.ledger.transaction() as con:
        return con.execute("SELECT count(*) FROM pvx_injections WHERE state = 'sending'").fetchone()[0]  # type: ignore[index]


def test_a_release_past_its_budget_stops_at_a_wave_and_leaves_the_rest_due(tmp_path: Path) -> None:
    world = _world(tmp_path)
    wave = ROWS * BATCHES_PER_WAVE
    for _ in range(wave + 3):
        world.shop.place([("TEE-BLK-M", 1)])
    world.ingest()
    world.tick(world.rules.orders.hold_window_seconds + 1)

    first = release(world.shop, world.pvx, world.ledger, world.rules, "release", world.now, max_seconds=0)
    # One wave went; the others were neither written ahead nor sent, and are still due.
    assert (first.injected, first.caught_up) == (wave, False)
    assert _states(world) == {state.IN_WAREHOUSE: wave, state.AWAITING_RELEASE: 3}
    assert _sending(world) == 0 and len(world.pvx.holds()) == wave

    second = release(world.shop, world.pvx, world.ledger, world.rules, "release", world.now, max_seconds=0)
    assert (second.injected, second.caught_up) == (3, True)
    assert _states(world) == {state.IN_WAREHOUSE: wave + 3}


def test_changes_to_live_orders_go_in_full_requests(tmp_path: Path) -> None:
    world = _world(tmp_path)
    edited = [world.shop.place([("TEE-BLK-M", 1)]) for _ in range(ROWS)]
    cancelled = [world.shop.place([("TEE-WHT-M", 1)]) for _ in range(ROWS)]
    world.release_due()
    assert all(world.row(oid).state == state.IN_WAREHOUSE for oid in edited + cancelled)
    for oid in edited:
        world.shop.set_quantity(oid, "CAP-BLK-OS", 1)  # a line added while the order is New
    for oid in cancelled:
        world.shop.cancel(oid)
    world.ingest()
    before = world.pvx.save_calls

    report = world.release()
    # ROWS item rows fill one request, ROWS cancellations another (one per order before).
    assert world.pvx.save_calls - before == 2
    assert report.changes["update"] == ROWS and report.changes["cancel"] == ROWS
    for oid in edited:
        assert world.held(oid) == ("New", {"TEE-BLK-M": 1, "CAP-BLK-OS": 1})
        assert world.recorded_items(oid) == {"TEE-BLK-M": 1, "CAP-BLK-OS": 1}
    for oid in cancelled:
        assert world.held(oid)[0] == "Cancelled"  # type: ignore[index]
        assert world.row(oid).state == state.CANCELLED_IN_WAREHOUSE


def test_ingest_tells_of_each_chunk_when_its_orders_come_due(tmp_path: Path) -> None:
    world = _world(tmp_path)
    first = world.shop.place([("TEE-BLK-M", 1)])
    world.shop.place([("TEE-BLK-M", 1)], paid=False)  # not awaiting release: no due time
    heard: list[Recorded] = []
    ingest(world.shop, world.ledger, world.rules, "ingest", world.now, on_recorded=heard.append)
    hold = timedelta(seconds=world.rules.orders.hold_window_seconds)
    assert [r.earliest_due for r in heard] == [world.shop.orders[first].processed_at + hold]
    assert world.row(first).release_due_at == heard[0].earliest_due.replace(tzinfo=None)  # type: ignore[union-attr]

    world.tick(5)
    second = world.shop.place([("TEE-WHT-M", 1)])
    heard.clear()
    ingest_notified(
        world.inbox, world.shop, world.ledger, world.rules, "webhooks", world.now, on_recorded=heard.append
    )
    assert [r.earliest_due for r in heard] == [world.shop.orders[second].processed_at + hold]


def test_a_wave_goes_in_one_header_request_and_full_item_requests(tmp_path: Path) -> None:
    """The limiter counts requests, not rows: with orders.yaml's batch (500 rows) a wave of 400
    due orders is one header SaveData and its 800 item rows two, not 4 + 8 as at 100 rows."""
    world = World(tmp_path, T0)
    assert world.rules.orders.injection_batch_rows == 500
    for _ in range(400):
        world.shop.place([("TEE-BLK-M", 1), ("CAP-BLK-OS", 1)])
    world.ingest()
    world.tick(world.rules.orders.hold_window_seconds + 1)
    report = release(world.shop, world.pvx, world.ledger, world.rules, "release", world.now)
    assert report.injected == 400 and len(world.pvx.holds()) == 400
    assert world.pvx.requests["SaveData Sales orders"] == 1
    assert world.pvx.requests["SaveData Sales order items"] == 2
    assert _states(world) == {state.IN_WAREHOUSE: 400}
