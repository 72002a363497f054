"""Issue 14's breaker review: interleaved runs, refusals, lost answers and crashes between two
writes, through the real flow code, a real DuckDB ledger and the strict in-memory stand-ins.

Each scenario ends by checking the one thing that matters: what the ledger records Peoplevox
holding is what Peoplevox holds, and nothing is in Peoplevox twice or missing.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from sync_pipeline.lib.flows.ops.run import refresh
from sync_pipeline.lib.flows.orders.ingest import CURSOR, CURSOR_OVERLAP
from sync_pipeline.lib.flows.orders.records import aware
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.peoplevox import PeoplevoxUnavailable
from sync_pipeline_tests.domain.factories import T0
from sync_pipeline_tests.flows.standins.world import World
from sync_pipeline_tests.flows.test_orders_defects import injected


class RunDied(BaseException):
    """A run killed between two writes (SIGKILL, OOM): nothing after this point runs."""


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, T0)


def die() -> None:
    raise RunDied


def died_after_the_write_ahead(world: World) -> str:
    """An order due for release whose release run dies after writing it ahead, before SaveData."""
    oid = world.shop.place([("TEE-BLK-M", 1)])
    world.ingest()
    world.tick(world.rules.orders.hold_window_seconds + 1)
    world.pvx.before_next_save.append(die)
    with pytest.raises(RunDied):
        world.release()
    return oid


def agrees(world: World, oid: str) -> None:
    """The ledger's record of what Peoplevox holds is what Peoplevox holds."""
    held = world.held(oid)
    assert held is not None
    assert world.recorded_items(oid) == held[1]
    assert world.injection(oid).state == "accepted"


def test_a_change_push_that_dies_after_peoplevox_applied_it_is_read_back_not_guessed(world: World) -> None:
    """Crash between the Peoplevox write and the ledger write of a change: the next run must
    record what Peoplevox holds, even once the floor has moved past the cut-off."""
    oid = injected(world)
    world.shop.set_quantity(oid, "TEE-BLK-M", 3)
    world.ingest()
    world.pvx.after_next_save.append(die)  # Peoplevox applied it; the run dies before the answer
    with pytest.raises(RunDied):
        world.release()
    assert world.held(oid) == ("New", {"TEE-BLK-M": 3})  # applied; the answer never recorded
    world.pvx.progress(world.number(oid), "Allocated")  # the floor moves on before the next run
    world.tick(5)
    world.release()
    agrees(world, oid)
    assert world.recorded_items(oid) == {"TEE-BLK-M": 3}
    assert world.open_kinds(oid) == []  # Peoplevox has what Shopify wants: nothing for CX
    assert not world.row(oid).change_pending


def test_one_orders_change_failing_the_run_does_not_lose_the_change_pushed_before_it(world: World) -> None:
    """Peoplevox stops answering (5xx, limiter) after one order's change was applied: the run
    fails, and the change already applied must not be forgotten by the ledger."""
    first = injected(world)
    second = injected(world)
    world.shop.set_quantity(first, "TEE-BLK-M", 2)
    world.shop.set_quantity(second, "TEE-BLK-M", 2)
    world.ingest()
    # One row per request, so the run can fail between the two orders' changes (they would
    # otherwise go in one request).
    world.rules = world.rules.with_orders(injection_batch_rows=1)

    def unavailable() -> None:
        raise PeoplevoxUnavailable("SaveData: HTTP 503 after retries")

    world.pvx.after_next_save.append(lambda: world.pvx.before_next_save.append(unavailable))
    with pytest.raises(PeoplevoxUnavailable):
        world.release()
    applied = [oid for oid in (first, second) if world.held(oid) == ("New", {"TEE-BLK-M": 2})]
    assert len(applied) == 1
    world.pvx.progress(world.number(applied[0]), "Allocated")
    world.tick(5)
    world.release()
    agrees(world, applied[0])
    assert world.recorded_items(applied[0]) == {"TEE-BLK-M": 2}
    assert world.open_kinds(applied[0]) == []


def test_an_injection_that_died_before_sending_is_not_sent_once_shopify_cancelled_it(world: World) -> None:
    """The run dies after the write-ahead, before SaveData; the customer cancels; the next run
    finds nothing in Peoplevox and must not create the cancelled order there."""
    oid = died_after_the_write_ahead(world)
    assert world.row(oid).state == "injecting" and world.pvx.holds() == {}
    world.shop.cancel(oid)
    world.ingest()
    world.release()
    assert world.pvx.holds() == {}
    assert world.row(oid).state == "cancelled_before_release"
    assert world.open_kinds(oid) == []


def test_an_injection_that_died_before_sending_goes_out_as_shopify_has_it_now(world: World) -> None:
    oid = died_after_the_write_ahead(world)
    world.shop.set_quantity(oid, "TEE-BLK-M", 2)
    world.shop.change(oid, shipping_line_title="Express")
    world.ingest()
    world.release()
    assert world.held(oid) == ("New", {"TEE-BLK-M": 2})
    assert world.pvx.header(world.number(oid))["ServiceType"] == "Express"
    agrees(world, oid)
    assert world.row(oid).state == "in_warehouse" and not world.row(oid).change_pending


def test_two_release_runs_at_once_create_nothing_twice_and_record_what_peoplevox_holds(world: World) -> None:
    """A second release run starts while the first is between its write-ahead and its save
    (a manual launch beside the sensor's, a pool misconfigured)."""
    world.pvx.instant_allocation = True  # a floor that allocates as soon as lines arrive
    oid = world.shop.place([("TEE-BLK-M", 1), ("CAP-BLK-OS", 2)])
    world.ingest()
    world.tick(world.rules.orders.hold_window_seconds + 1)
    world.pvx.before_next_save.append(world.release)
    world.release()
    world.release()
    assert world.held(oid) == ("Allocated", {"TEE-BLK-M": 1, "CAP-BLK-OS": 2})
    agrees(world, oid)
    assert world.open_kinds(oid) == []
    world.statuses()
    row = world.row(oid)
    assert (row.state, row.pvx_status) == ("in_warehouse", "Allocated")


def test_an_ingest_read_that_dies_mid_page_loses_no_order(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shopify gives up mid-read (5xx or THROTTLED past the client's retries), in the cheap listing
    or in the full read by id after some chunks were committed: the next poll must still read
    every order the dead one did not.

    The orders are further apart than the cursor's overlap, so the next poll re-lists only what a
    correct cursor keeps behind it (an overlap covering them all would hide a cursor moved too far)."""
    monkeypatch.setattr("sync_pipeline.lib.flows.orders.ingest.CHUNK", 2)
    world.shop.drop_webhooks = True
    placed = []
    for _ in range(5):
        placed.append(world.shop.place([("TEE-BLK-M", 1)]))
        world.tick(CURSOR_OVERLAP.total_seconds() + 5)
    listing, by_ids = world.shop.order_changes_since, world.shop.orders_by_ids
    served = 0

    def listing_dies_after_three(since):  # type: ignore[no-untyped-def]
        nonlocal served
        for listed in listing(since):
            if served == 3:
                raise RuntimeError("Shopify: HTTP 503 after 5 attempts")
            served += 1
            yield listed

    def full_read_dies_on_the_second_chunk(ids):  # type: ignore[no-untyped-def]
        nonlocal served
        served += 1
        if served > 1:
            raise RuntimeError("Shopify: THROTTLED after 8 attempts")
        return by_ids(ids)

    def cursor_is_behind_every_unrecorded_order() -> set[str]:
        with world.ledger.transaction() as con:
            recorded = set(ledger_orders.get_many(con, placed))
        assert recorded < set(placed), "the dead read should have left some orders unread"
        stored = world.ledger.get_cursor(CURSOR)  # what the next poll starts from (less the overlap)
        oldest_unread = min(aware(world.shop.orders[oid].updated_at) for oid in placed if oid not in recorded)
        assert stored is None or aware(datetime.fromisoformat(stored)) <= oldest_unread, (
            stored,
            oldest_unread,
        )
        return recorded

    monkeypatch.setattr(world.shop, "order_changes_since", listing_dies_after_three)
    with pytest.raises(RuntimeError):
        world.ingest()
    assert cursor_is_behind_every_unrecorded_order()  # the chunk listed before the listing died
    monkeypatch.setattr(world.shop, "order_changes_since", listing)
    served = 0
    monkeypatch.setattr(world.shop, "orders_by_ids", full_read_dies_on_the_second_chunk)
    with pytest.raises(RuntimeError):
        world.ingest()
    cursor_is_behind_every_unrecorded_order()
    monkeypatch.setattr(world.shop, "orders_by_ids", by_ids)
    world.tick(120)
    world.ingest()
    assert {oid: world.row(oid).state for oid in placed} == dict.fromkeys(placed, "awaiting_release")


def test_a_release_that_reads_an_older_version_than_the_ledger_holds_never_acts_on_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shopify's read replica lags: release and the change push are served the version before a
    cancellation ingest already recorded. The ledger's newer version wins in both."""
    live = injected(world)
    before_release = world.shop.place([("TEE-BLK-M", 1)])
    world.ingest()
    stale = {oid: world.shop.orders[oid] for oid in (before_release, live)}
    world.tick(5)
    world.shop.cancel(before_release)
    world.shop.cancel(live)
    world.ingest()
    monkeypatch.setattr(world.shop, "order_versions", lambda ids: {i: stale[i].updated_at for i in ids})
    monkeypatch.setattr(world.shop, "orders_by_ids", lambda ids: {i: stale[i] for i in ids})
    world.tick(world.rules.orders.hold_window_seconds + 1)
    world.release()
    assert world.row(before_release).state == "cancelled_before_release"
    assert world.held(live) == ("Cancelled", {"TEE-BLK-M": 1})
    assert world.row(live).state == "cancelled_in_warehouse"
    assert world.number(before_release) not in world.pvx.holds()


def test_the_ops_recheck_between_a_crash_and_the_next_runs_changes_nothing_it_should_not(
    world: World,
) -> None:
    """The ops re-check and a status run go between a run that died mid-push and the runs after
    it, while the order also waits for an item type: they must not close what the release runs
    need, and the flow converges."""
    oid = injected(world)
    world.shop.set_quantity(oid, "TEE-BLK-M", 2)
    world.ingest()
    world.pvx.after_next_save.append(die)
    with pytest.raises(RunDied):
        world.release()
    world.tick(5)
    world.shop.set_quantity(oid, "MUG-LOGO", 1)  # no such item type yet
    world.ingest()
    refresh(world.ledger, world.rules.ops, world.now.replace(tzinfo=None), "ops")
    world.statuses()
    world.release()
    assert world.open_kinds(oid) == ["unmapped_sku"]
    agrees(world, oid)
    refresh(world.ledger, world.rules.ops, world.now.replace(tzinfo=None), "ops")
    assert world.open_kinds(oid) == ["unmapped_sku"]
    world.pvx.warehouse.upsert_item("MUG-LOGO", "5099", "Mug")
    world.know_item_types("MUG-LOGO")
    world.tick(60)
    world.release()
    assert world.held(oid) == ("New", {"TEE-BLK-M": 2, "MUG-LOGO": 1})
    agrees(world, oid)
    assert world.open_kinds(oid) == []


def test_a_header_saved_before_the_run_died_is_not_completed_with_items_shopify_cancelled(
    world: World,
) -> None:
    """The run dies between the header save and the items save; the customer cancels; the
    next run must cancel the empty order, not complete it with the items first (a floor that
    allocates at once would then be past the cut-off, and the cancelled order would ship)."""
    world.pvx.instant_allocation = True
    oid = world.shop.place([("TEE-BLK-M", 1)])
    world.ingest()
    world.tick(world.rules.orders.hold_window_seconds + 1)
    world.pvx.after_next_save.append(die)  # the header is saved; its items never are
    with pytest.raises(RunDied):
        world.release()
    assert world.held(oid) == ("New", {})
    world.shop.cancel(oid)
    world.ingest()
    world.release()
    assert world.held(oid) == ("Cancelled", {})
    assert world.row(oid).state == "cancelled_in_warehouse"
    assert world.open_kinds(oid) == []


def test_webhooks_naming_no_valid_order_are_skipped_not_a_poison_pill(world: World) -> None:
    """A malformed webhook in the inbox must not fail every later webhook read (Shopify refuses
    the whole by-id query for an invalid id), nor hide the genuine ones behind it."""
    oid = world.shop.place([("TEE-BLK-M", 1)])
    world.ingest()
    for named in ("gid://shopify/Order/abc", "gid://shopify/Order/1<x>&", "gid://shopify/Order/", "1001"):
        world.inbox.write("shopify", {"topic": "orders/updated", "payload": {"admin_graphql_api_id": named}})
    world.shop.cancel(oid)  # the same second: only its webhook can bring it in time
    assert world.ingest_notified() == 1
    assert world.row(oid).state == "cancelled_before_release"
    assert world.ingest_notified() == 0  # the cursor moved past them all


def test_a_cancel_whose_run_died_before_sending_it_still_fails_the_error_check(world: World) -> None:
    """Until the next run, the order is cancelled in Shopify and live in Peoplevox: the ERROR
    check `cancelled_orders_not_active_in_warehouse` must see it while the cancel is in doubt."""
    oid = injected(world)
    world.shop.cancel(oid)
    world.ingest()
    world.pvx.before_next_save.append(die)
    with pytest.raises(RunDied):
        world.release()
    assert world.held(oid) == ("New", {"TEE-BLK-M": 1})
    with world.ledger.transaction() as con:
        live = ledger_orders.cancelled_but_active_in_warehouse(con, ("Cancelled", "Despatched"))
    assert [r[0] for r in live] == [oid]
    world.release()
    assert world.held(oid) == ("Cancelled", {"TEE-BLK-M": 1})
    assert world.row(oid).state == "cancelled_in_warehouse"
    with world.ledger.transaction() as con:
        assert ledger_orders.cancelled_but_active_in_warehouse(con, ("Cancelled", "Despatched")) == []
