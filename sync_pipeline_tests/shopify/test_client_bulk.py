"""Bulk reads through the client over real HTTP: same models as the pages, off the bucket, loud failures."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync_pipeline.lib.shopify import ShopifySearchWarning
from sync_pipeline.lib.shopify.bulk_results import parse_lines, reassemble
from sync_pipeline.lib.shopify.errors import ShopifyBulkError
from sync_pipeline.sandbox.shopify.config import FaultSettings, ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import (
    AddressSpec,
    CompanySpec,
    LineSpec,
    OrderSpec,
    ShippingLineSpec,
)

from .conftest import Sandbox

HOSTILE = AddressSpec(name='Zoë "Zed" O\'Brien', company="Smith, Jones & Co.\nLtd", address1="=SUM(A1:A2)",
                      city="Kraków", country_code="PL")  # fmt: skip


def _varied_orders(sandbox: Sandbox) -> None:
    """Orders of every shape the flows read: bundles, B2B, no shipping, long, hostile text."""
    sandbox.seed()
    store = sandbox.state.store
    specs = [
        OrderSpec(lines=[LineSpec(sku="MUG", quantity=2), LineSpec(sku="BUNDLE-BRK")], shipping_address=HOSTILE,
                  tags=["vip"], customer_tags=["wholesale"], custom_attributes={"gift": "yes"}),
        OrderSpec(lines=[LineSpec(sku="TEE-M", quantity=3)], company=CompanySpec(name="Acme Ltd", location="Leeds")),
        OrderSpec(lines=[LineSpec(sku="GIFT-25")], shipping_line=None),
        OrderSpec(lines=[LineSpec(sku="TEE-S")], shipping_line=ShippingLineSpec(title="Next day", code="NDD")),
        OrderSpec(lines=[LineSpec(sku=s, quantity=q) for q in range(1, 5) for s in ("MUG", "TEE-S", "TEE-M")]),
    ]  # fmt: skip
    for spec in specs * 3:
        store.place_order(spec)


def _window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(minutes=5)


def test_bulk_and_paginated_reads_give_identical_orders_and_variants(sandbox: Sandbox) -> None:
    _varied_orders(sandbox)
    client = sandbox.client
    client.line_items_per_order = 5  # the long order needs a second page of lines when paginated
    client.bulk_threshold = 0
    paged = list(client.iter_orders_created_between(*_window()))
    paged_variants = list(client.iter_product_variants())
    assert client.last_read_mode == "paginated" and sandbox.state.stats["bulk_operations"] == 0
    client.bulk_threshold = 1
    bulk = list(client.iter_orders_created_between(*_window()))
    assert client.last_read_mode == "bulk"
    bulk_variants = list(client.iter_product_variants())
    assert sandbox.state.stats["bulk_operations"] == 2
    assert len(paged) == 15 and max(len(o.line_items) for o in paged) == 12
    assert bulk == paged
    assert any(v.components for v in paged_variants) and bulk_variants == paged_variants


def test_threshold_keeps_small_reads_paginated_and_moves_large_ones_off_the_bucket(sandbox: Sandbox) -> None:
    _varied_orders(sandbox)
    client = sandbox.client
    client.bulk_threshold = 16
    assert len(list(client.iter_orders_created_between(*_window()))) == 15
    assert client.last_read_mode == "paginated"
    paged_points = client.stats.points_spent
    client.bulk_threshold = 15
    before = client.stats.points_spent
    assert len(list(client.iter_orders_created_between(*_window()))) == 15
    assert client.last_read_mode == "bulk"
    bulk_points = client.stats.points_spent - before
    # Start (10), one count (1) and a few polls (1 each), whatever the size of the read.
    assert client.stats.by_operation["OrdersCount"] == 2  # once per read: the count that chose the mode
    assert bulk_points == 10 + 1 + client.stats.by_operation["BulkOperation"]
    assert bulk_points < paged_points


def test_a_misspelled_search_is_refused_before_any_bulk_operation(sandbox: Sandbox) -> None:
    sandbox.seed()
    client = sandbox.client
    client.bulk_threshold = 1  # the count that chooses bulk is the one that checks the search
    with pytest.raises(ShopifySearchWarning, match="prodcut_type"):
        list(client.iter_product_variants("prodcut_type:mugs"))
    with pytest.raises(ShopifySearchWarning, match="finacial_status"):
        client.count_orders("finacial_status:paid", limit=1)
    assert sandbox.state.stats["bulk_operations"] == 0


def test_failed_operation_raises_with_its_code_and_partial_data(make_sandbox: Any) -> None:
    faults = FaultSettings(bulk_fail_next=1, bulk_fail_code="INTERNAL_SERVER_ERROR", bulk_fail_after_roots=1)
    sandbox = make_sandbox(ShopifySandboxConfig(faults=faults))
    _varied_orders(sandbox)
    with pytest.raises(ShopifyBulkError, match="FAILED \\(INTERNAL_SERVER_ERROR\\)") as failure:
        list(sandbox.client.iter_bulk_orders("status:any"))
    assert failure.value.error_code == "INTERNAL_SERVER_ERROR"
    assert failure.value.partial_data_url is not None


def test_a_result_file_that_disagrees_with_object_count_is_refused(sandbox: Sandbox) -> None:
    _varied_orders(sandbox)
    client = sandbox.client
    op = client.run_bulk_query("{ orders { nodes { id } } }", timeout=30)
    path = sandbox.state.bulk.path(sandbox.state.bulk.ops[int(op.id.rsplit("/", 1)[1])])
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")  # one line lost
    with pytest.raises(ShopifyBulkError, match="held 14 objects but the operation reported 15"):
        list(client.iter_bulk_objects(op))
    record = sandbox.state.bulk.ops[int(op.id.rsplit("/", 1)[1])]
    record.expires_at = 0.0  # seven days on
    with pytest.raises(ShopifyBulkError, match="expired"):
        client.wait_for_bulk_operation(op.id, timeout=5)
    with pytest.raises(ShopifyBulkError, match="403"):
        list(client.iter_bulk_objects(op))


def test_waits_for_the_running_operation_then_starts(make_sandbox: Any) -> None:
    sandbox = make_sandbox(ShopifySandboxConfig(bulk_objects_per_second=15))
    _varied_orders(sandbox)
    client = sandbox.client
    client.bulk_poll_seconds = 0.05
    first = client.start_bulk_query("{ orders { nodes { id } } }")  # about a second at 15 a second
    second = client.run_bulk_query("{ productVariants { nodes { id } } }", timeout=30)
    assert second.status == "COMPLETED" and second.object_count == 5
    assert client.get_bulk_operation(first.id).status == "COMPLETED"  # type: ignore[union-attr]
    # The first start, at least one OPERATION_IN_PROGRESS refusal of the second, then its start.
    assert client.stats.by_operation["BulkOperationRunQuery"] >= 3
    assert sandbox.state.stats["bulk_operations"] == 2  # a refusal creates no operation


def test_a_timed_out_operation_is_cancelled_so_the_next_one_can_start(make_sandbox: Any) -> None:
    sandbox = make_sandbox(ShopifySandboxConfig(bulk_objects_per_second=1))
    _varied_orders(sandbox)
    client = sandbox.client
    client.bulk_poll_seconds = 0.05
    with pytest.raises(ShopifyBulkError, match=r"still (CREATED|RUNNING) after") as timed_out:
        client.run_bulk_query("{ orders { nodes { id } } }", timeout=0.2)  # 15 s at 1 object a second
    assert timed_out.value.__notes__ == ["cancelled it, so the next bulk query can start"]
    assert client.stats.by_operation["BulkOperationCancel"] == 1
    record = sandbox.state.bulk.ops[int(timed_out.value.operation_id.rsplit("/", 1)[1])]
    assert record.status in ("CANCELING", "CANCELED") and record.cancel_requested
    started = time.monotonic()
    after = client.run_bulk_query("{ productVariants { nodes { id } } }", timeout=30)
    assert after.status == "COMPLETED" and after.object_count == 5
    assert time.monotonic() - started < 10  # not held up by the 15 s export
    assert client.get_bulk_operation(timed_out.value.operation_id).status == "CANCELED"  # type: ignore[union-attr]


def test_reassembly_refuses_children_away_from_their_parent() -> None:
    lines = ['{"id":"gid://shopify/Order/1"}', '{"id":"gid://shopify/Order/2"}',
             '{"id":"gid://shopify/LineItem/9","__parentId":"gid://shopify/Order/1"}']  # fmt: skip
    with pytest.raises(ShopifyBulkError, match="does not follow its parent"):
        list(reassemble(parse_lines(lines, "op"), "lineItems", "op"))
    with pytest.raises(ShopifyBulkError, match="line 2 of the result is not JSON"):
        list(parse_lines(['{"id":"gid://shopify/Order/1"}', '{"id":"gid://sho'], "op"))
    grouped = list(reassemble(parse_lines([*lines[:1], lines[2], lines[1]], "op"), "lineItems", "op"))
    assert [o["lineItems"]["nodes"] for o in grouped] == [[{"id": "gid://shopify/LineItem/9"}], []]


def _two_line_orders(sandbox: Sandbox, count: int) -> None:
    sandbox.seed()
    for i in range(count):
        sandbox.state.store.place_order(
            OrderSpec(lines=[LineSpec(sku="MUG", quantity=i % 3 + 1), LineSpec(sku="TEE-S")])
        )


def test_an_export_that_keeps_making_progress_is_waited_for_past_the_stall_limit(make_sandbox: Any) -> None:
    """The wait follows the operation's progress: 150 orders in three pages a second apart take
    ~3 s, more than the 1.6 s allowed without a new object, and still complete. (Until session 18
    a fixed hour gave up an export of 100,000 orders that was still writing.)"""
    sandbox = make_sandbox(ShopifySandboxConfig(bulk_objects_per_second=150))
    _two_line_orders(sandbox, 150)  # 450 objects: a page of 50 orders (150 objects) a second
    client = sandbox.client
    client.bulk_poll_seconds, client.bulk_poll_cap_seconds = 0.05, 0.2
    started = time.monotonic()
    op = client.run_bulk_query("{ orders { nodes { id lineItems { nodes { id } } } } }", stalled_after=1.6)
    assert op.status == "COMPLETED" and op.object_count == 450
    assert time.monotonic() - started > 1.6


def test_an_export_that_stops_making_progress_is_cancelled(make_sandbox: Any) -> None:
    sandbox = make_sandbox(ShopifySandboxConfig(bulk_objects_per_second=1))
    _two_line_orders(sandbox, 60)  # the first page of 150 objects, then 150 s until the next
    client = sandbox.client
    client.bulk_poll_seconds, client.bulk_poll_cap_seconds = 0.05, 0.2
    with pytest.raises(
        ShopifyBulkError, match=r"still RUNNING with 150 objects, none new for 1 s"
    ) as stalled:
        client.run_bulk_query("{ orders { nodes { id lineItems { nodes { id } } } } }", stalled_after=1.0)
    assert stalled.value.__notes__ == ["cancelled it, so the next bulk query can start"]
    assert client.get_bulk_operation(stalled.value.operation_id).status in ("CANCELING", "CANCELED")  # type: ignore[union-attr]


def test_a_read_waits_for_the_slot_while_its_holder_makes_progress(make_sandbox: Any) -> None:
    """A second bulk read waits for the app's one slot as long as the export holding it keeps
    writing, however long that is (until session 18 the slot was waited for an hour while the
    export holding it could be waited for by its own reader for days)."""
    sandbox = make_sandbox(ShopifySandboxConfig(bulk_objects_per_second=150))
    _two_line_orders(sandbox, 150)  # three pages a second apart
    client = sandbox.client
    client.bulk_poll_seconds, client.bulk_poll_cap_seconds = 0.05, 0.2
    first = client.start_bulk_query("{ orders { nodes { id lineItems { nodes { id } } } } }")
    started = time.monotonic()
    second = client.run_bulk_query("{ productVariants { nodes { id } } }", stalled_after=1.6)
    assert second.status == "COMPLETED"
    assert time.monotonic() - started > 1.6  # longer than the stall limit: bound by progress alone
    assert client.get_bulk_operation(first.id).status == "COMPLETED"  # type: ignore[union-attr]
    assert client.stats.by_operation["BulkOperationRunQuery"] >= 3  # refused while it ran


def test_a_read_behind_a_stuck_holder_fails_naming_it(make_sandbox: Any) -> None:
    sandbox = make_sandbox(ShopifySandboxConfig(bulk_objects_per_second=1))
    _two_line_orders(sandbox, 60)  # the first page, then nothing for 150 s
    client = sandbox.client
    client.bulk_poll_seconds, client.bulk_poll_cap_seconds = 0.05, 0.2
    holder = client.start_bulk_query("{ orders { nodes { id lineItems { nodes { id } } } } }")
    with pytest.raises(
        ShopifyBulkError, match="holds this app's bulk query slot, still RUNNING with 150 objects"
    ):
        client.run_bulk_query("{ productVariants { nodes { id } } }", stalled_after=1.0)
    assert client.get_bulk_operation(holder.id).status == "RUNNING"  # type: ignore[union-attr]  # not ours to cancel


def test_a_status_that_flips_back_is_not_progress() -> None:
    from sync_pipeline.lib.shopify.bulk import BulkOperation, _Progress

    progress = _Progress(0.0)
    seen = [("CREATED", 0), ("RUNNING", 0), ("CREATED", 0), ("RUNNING", 0), ("RUNNING", 5), ("RUNNING", 5)]
    still = [
        progress.still_for(BulkOperation(id="b", status=s, object_count=n), float(t))
        for t, (s, n) in enumerate(seen)
    ]
    assert still == [0.0, 0.0, 1.0, 2.0, 0.0, 1.0]


def test_a_read_stopped_while_it_waits_cancels_its_operation(
    make_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run cancelled mid-wait (Dagster interrupts it) cancels its export, which would otherwise
    hold the app's bulk slot for every later read until it ended."""
    sandbox = make_sandbox(ShopifySandboxConfig(bulk_objects_per_second=1))
    _two_line_orders(sandbox, 60)
    client = sandbox.client

    def interrupted(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(client, "wait_for_bulk_operation", interrupted)
    with pytest.raises(KeyboardInterrupt) as stopped:
        client.run_bulk_query("{ orders { nodes { id } } }")
    assert stopped.value.__notes__ == ["cancelled it, so the next bulk query can start"]
    assert client.stats.by_operation["BulkOperationCancel"] == 1
