"""The callback layouts we subscribe with, and reading what a tenant sends back."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.flows.orders import statuses
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.peoplevox import callbacks
from sync_pipeline.sandbox.peoplevox.events import CONFIRMED_PLACEHOLDERS


def test_layouts_use_confirmed_placeholders_only() -> None:
    for event, layout in callbacks.SUBSCRIBED.items():
        used = set(re.findall(r"\{([^}]+)\}", layout.query))
        assert used and used <= CONFIRMED_PLACEHOLDERS[event], event
        assert set(layout.identity) <= {name for name, _ in layout.params}


def test_the_orders_flow_reads_the_parameter_names_we_subscribe_with() -> None:
    # Only the number: the status itself is always read from Peoplevox (issue 16, item 3).
    names = {name for name, _ in callbacks.SALES_ORDER_STATUS.params}
    assert statuses.CALLBACK_NUMBER in names


def test_unfilled_placeholders_are_named_and_dropped() -> None:
    params = {"number": "SO-1", "status": "{SalesOrderStatu.Name}", "modified": "", "x": "{a}b"}
    assert callbacks.unfilled(params) == ["status"]
    assert callbacks.filled(params) == {"number": "SO-1", "modified": "", "x": "{a}b"}


def test_dedupe_only_when_the_callback_names_one_change() -> None:
    event = "SalesOrderStatusChanges"
    full = {"number": "SO-1", "modified": "2026-10-01T10:00:00", "status": "Allocated"}
    assert callbacks.dedupe_key(event, full) == callbacks.dedupe_key(event, dict(full))
    assert callbacks.dedupe_key(event, full) != callbacks.dedupe_key(event, {**full, "status": "Picking"})
    assert callbacks.dedupe_key(event, {**full, "modified": "{LastModificationTime}"}) is None
    assert callbacks.dedupe_key(event, {**full, "modified": ""}) is None
    assert callbacks.dedupe_key("AvailabilityChanges", {"item": "A", "available": "4"}) is None
    assert callbacks.dedupe_key("GoodsReceived", {"id": "GI1"}) is None


@settings(max_examples=60)
@given(st.dictionaries(st.sampled_from(["number", "modified", "status"]), st.text(max_size=12)))
def test_dedupe_keys_differ_whenever_an_identity_value_differs(params: dict[str, str]) -> None:
    event = "SalesOrderStatusChanges"
    key = callbacks.dedupe_key(event, params)
    if key is None:
        return
    for name in callbacks.SALES_ORDER_STATUS.identity:
        assert callbacks.dedupe_key(event, {**params, name: params[name] + "x"}) != key


def test_names_since_reads_one_event_and_parameter_past_the_cursor_and_skips_a_pruned_file(
    tmp_path: Path,
) -> None:
    inbox = Inbox(tmp_path)
    first = inbox.write("peoplevox", {"event": "AvailabilityChanges", "params": {"item": "OLD"}})
    assert first is not None
    for params in ({"item": " A "}, {"item": "{ItemCode}"}, {"item": ""}, {"item": "A"}, {"item": "B"}):
        inbox.write("peoplevox", {"event": "AvailabilityChanges", "params": params})
    inbox.write("peoplevox", {"event": "TrackingNumberReceived", "params": {"despatch": "D1", "item": "X"}})
    gone = inbox.write("peoplevox", {"event": "AvailabilityChanges", "params": {"item": "PRUNED"}})
    last = inbox.write("peoplevox", {"event": "SalesOrderStatusChanges", "params": {"number": "S1"}})
    assert gone is not None and last is not None
    gone.path.unlink()  # pruned between the listing and the read
    found = callbacks.names_since(inbox, callbacks.AVAILABILITY_CHANGES, callbacks.ITEM_CODE, first.name, 100)
    assert found == callbacks.Named(["A", "A", "B"], 2, last.name)
    assert callbacks.names_since(
        inbox, callbacks.AVAILABILITY_CHANGES, callbacks.ITEM_CODE, last.name, 100
    ) == (callbacks.Named([], 0, None))
