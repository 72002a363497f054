"""Release queues the items of orders whose units stopped awaiting allocation for the stock flow,
in the transaction that records it (as the status run does), not in one of its own at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_pipeline.lib.flows.orders.release import run
from sync_pipeline.lib.ledger import stock_snapshots
from sync_pipeline_tests.domain.factories import T0
from sync_pipeline_tests.flows.standins.world import World


def _queued(world: World) -> set[str]:
    with world.ledger.transaction() as con:
        return set(stock_snapshots.dirty(con))


def test_a_release_that_stops_after_recording_an_allocation_has_queued_its_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Confirming an in-doubt injection that Peoplevox has allocated meanwhile moves the order's
    units out of "awaiting allocation": Shopify may show them again, and no AvailabilityChanges
    callback will say so (the allocation's came first). A run that stops after recording it (here
    its change push fails) must not take the hint with it."""
    world = World(tmp_path, T0)
    oid = world.shop.place([("TEE-BLK-M", 1)])
    world.pvx.lose_answers["Sales order items"] = 1  # the items are applied, the answer is lost
    world.release_due()
    assert world.row(oid).state == "injecting"
    world.pvx.progress(world.number(oid), "Allocated")
    assert "TEE-BLK-M" not in _queued(world)

    def push_fails(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the run stops here")

    monkeypatch.setattr(run, "push_changes", push_fails)
    with pytest.raises(RuntimeError):
        world.release()
    row = world.row(oid)
    assert (row.state, row.pvx_status) == ("in_warehouse", "Allocated")
    assert "TEE-BLK-M" in _queued(world)
