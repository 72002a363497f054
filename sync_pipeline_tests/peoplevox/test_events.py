"""Event callbacks over HTTP: GET with URL-encoded placeholders, POST form bodies, injected faults."""

from __future__ import annotations

import asyncio
import threading
import time
from urllib.parse import parse_qs

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.sandbox.peoplevox.app import create_app
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl
from sync_pipeline.sandbox.server import serve_in_thread
from sync_pipeline_tests.peoplevox.conftest import Sandbox

ODD_SKU = "A&B=C ü/#?"


def _wait_for(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for callbacks"
        time.sleep(0.02)


def test_get_and_post_callbacks(sandbox: Sandbox, client: PeoplevoxClient, receiver) -> None:  # type: ignore[no-untyped-def]
    sandbox.control.seed_items([(ODD_SKU, "1", "odd")])
    client.subscribe_event(
        "GoodsReceived",
        receiver.url
        + "/gi?token=s3cret&sku={Consignments.ConsignmentItemTypes.ItemType.ItemCode}&q={Consignments.ConsignmentItemTypes.Quantity}&x={Unknown}",
    )
    client.subscribe_post_event(
        "AvailabilityChanges", receiver.url + "/avail", "item={ItemCode}&available={Available}"
    )
    sandbox.control.goods_in(ODD_SKU, "PrimarySite", 7, "PO 1")
    assert sandbox.control.flush_events()
    _wait_for(lambda: len(receiver.calls) == 2)
    get = next(c for c in receiver.calls if c["method"] == "GET")
    query = parse_qs(get["query"])
    assert query["sku"] == [ODD_SKU] and query["q"] == ["7"] and query["token"] == ["s3cret"]
    assert "%7BUnknown%7D" in get["query"] or "{Unknown}" in get["query"]
    post = next(c for c in receiver.calls if c["method"] == "POST")
    assert parse_qs(post["body"]) == {"item": [ODD_SKU], "available": ["7"]}


def test_status_and_tracking_events_follow_the_warehouse(
    sandbox: Sandbox, client: PeoplevoxClient, receiver
) -> None:  # type: ignore[no-untyped-def]
    sandbox.control.seed_items([("S1", "1", "one")])
    sandbox.control.set_stock([("S1", "PrimarySite", 5)])
    client.subscribe_event(
        "SalesOrderStatusChanges",
        receiver.url + "/s?so={SalesOrderNumber}&st={SalesOrderStatu.Name}&at={LastModificationTime}",
    )
    client.subscribe_event(
        "TrackingNumberReceived",
        receiver.url
        + "/t?so={Picks.SalesOrder.SalesOrderNumber}&d={DespatchNumber}&tn={TrackingNumber}&c={Carrier.Number}",
    )
    client.save_data("Sales orders", [{"SalesOrderNumber": "#1001"}])
    client.save_data(
        "Sales order items",
        [{"SalesOrderNumber": "#1001", "ItemCode": "S1", "QuantityOrdered": 1, "Line": "1"}],
    )
    sandbox.control.advance(86_400)
    sandbox.control.flush_events()
    statuses = [parse_qs(c["query"])["st"][0] for c in receiver.calls if c["path"] == "/s"]
    # Several callbacks go at once, so they may arrive out of the order they were raised in.
    assert sorted(statuses) == sorted(["New", "Allocated", "Picking", "Packed", "Despatched"])
    [tracking] = [parse_qs(c["query"]) for c in receiver.calls if c["path"] == "/t"]
    assert (
        tracking["so"] == ["#1001"] and tracking["d"] == ["DES00001"] and tracking["tn"][0].startswith("RM")
    )
    assert tracking["c"] == ["1"]  # a carrier number, not a name (what it holds is unconfirmed)


def test_only_confirmed_placeholders_are_filled(sandbox: Sandbox, client: PeoplevoxClient, receiver) -> None:  # type: ignore[no-untyped-def]
    """Invented placeholders come back as written, as on a tenant that does not know them."""
    sandbox.control.seed_items([("S1", "1", "one")])
    client.subscribe_event(
        "AvailabilityChanges", receiver.url + "/a?i={ItemCode}&n={Available}&site={SiteReference}"
    )
    client.subscribe_event(
        "SalesOrderStatusChanges",
        receiver.url + "/s?so={SalesOrderNumber}&st={SalesOrderStatus.Name}&st2={SalesOrderStatu.Name}",
    )
    sandbox.control.set_stock([("S1", "PrimarySite", 5)])
    sandbox.control.goods_in("S1", "PrimarySite", 2)
    client.save_data("Sales orders", [{"SalesOrderNumber": "SO-9"}])
    assert sandbox.control.flush_events()
    [avail] = [parse_qs(c["query"]) for c in receiver.calls if c["path"] == "/a"]
    assert avail == {"i": ["S1"], "n": ["7"], "site": ["{SiteReference}"]}
    [status] = [parse_qs(c["query"]) for c in receiver.calls if c["path"] == "/s"]
    assert status == {"so": ["SO-9"], "st": ["{SalesOrderStatus.Name}"], "st2": ["New"]}


def test_faults_drop_and_duplicate_callbacks(sandbox: Sandbox, client: PeoplevoxClient, receiver) -> None:  # type: ignore[no-untyped-def]
    sandbox.control.seed_items([("S1", "1", "one")])
    client.subscribe_event("GoodsReceived", receiver.url + "/gi?id={GoodsInId}")
    sandbox.control.set_faults(callback_drop_rate=1.0)
    sandbox.control.goods_in("S1", "PrimarySite", 1)
    sandbox.control.set_faults(
        callback_drop_rate=0.0, callback_duplicate_rate=1.0, callback_delay_seconds=0.2
    )
    sandbox.control.goods_in("S1", "PrimarySite", 1)
    assert sandbox.control.flush_events()
    assert [c["query"] for c in receiver.calls] == ["id=GI00002", "id=GI00002"]
    outcomes = [d.outcome for d in sandbox.control.state().deliveries]
    assert outcomes == ["dropped", "delivered"]


def test_a_slow_receiver_holds_up_one_sender_not_every_callback(
    sandbox: Sandbox, client: PeoplevoxClient
) -> None:
    """Callbacks go several at once (Peoplevox documents neither order nor concurrency): eight
    callbacks to an endpoint that takes 0.4 s each arrive in about a quarter of the 3.2 s one sender
    would take, and each delivery says how long it waited in the sandbox's own queue. The endpoint
    answers nothing until all eight are raised: raised one control call at a time on a loaded machine,
    they had reached the sandbox's queue so far apart that none waited for a sender."""
    answered: list[float] = []
    all_raised = threading.Event()

    async def slow(request: Request) -> PlainTextResponse:
        await asyncio.to_thread(all_raised.wait, 10)
        await asyncio.sleep(0.4)
        answered.append(time.monotonic())
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/{path:path}", slow, methods=["GET"])])
    sandbox.control.seed_items([(f"S{n}", f"B{n}", f"item {n}") for n in range(8)])
    with serve_in_thread(app) as url:
        client.subscribe_event("AvailabilityChanges", url + "/a?i={ItemCode}")
        for n in range(8):
            sandbox.control.goods_in(f"S{n}", "PrimarySite", 1)
        started = time.monotonic()
        all_raised.set()
        assert sandbox.control.flush_events()
        elapsed = time.monotonic() - started
    assert len(answered) == 8
    assert elapsed < 2.0, f"eight slow callbacks took {elapsed:.1f} s: sent one at a time"
    waits = [d.waited for d in sandbox.control.state().deliveries]
    assert all(w is not None and w >= 0 for w in waits)
    # The last four waited for a sender while the first four were being answered.
    assert sorted(waits)[-1] >= 0.3  # type: ignore[operator]


def test_stopping_with_callbacks_queued_ends_promptly_sends_no_more_and_no_sender_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Shutdown while sending (a rehearsal's end: thousands of callbacks queued behind a busy
    receiver). stop() joined each of the four senders for 5 s in turn (20 s, where one sender had
    taken 5), then took the shared client away from the senders still draining the queue: each
    failed on its next callback (`AssertionError` in a `pvx-callbacks` thread) and the rest stayed
    'pending'. Now a stop sends nothing more: the calls under way end, what is queued is dropped."""
    failed: list[str] = []
    monkeypatch.setattr(
        threading, "excepthook", lambda args: failed.append(f"{args.thread}: {args.exc_value!r}")
    )
    answered: list[float] = []

    async def slow(request: Request) -> PlainTextResponse:
        await asyncio.sleep(1.0)
        answered.append(time.monotonic())
        return PlainTextResponse("ok")

    config = PeoplevoxSandboxConfig(requests_per_window=10_000)
    app = create_app(config)
    with (
        serve_in_thread(Starlette(routes=[Route("/{path:path}", slow, methods=["GET"])])) as receiver_url,
        serve_in_thread(app) as url,
        PeoplevoxControl(url) as control,
        Sandbox(url, control, config).client() as client,
    ):
        control.seed_items([("S1", "B1", "item")])
        client.subscribe_event("AvailabilityChanges", receiver_url + "/a?i={ItemCode}")
        for _ in range(100):  # 25 s of sending for four senders
            control.goods_in("S1", "PrimarySite", 1)
        began = time.monotonic()
        app.state.sandbox.stop()
        took = time.monotonic() - began
        sent_by_stop = len(answered)
        time.sleep(1.5)
        sent_after_stop = len(answered) - sent_by_stop
    assert (round(took) <= 2, sent_after_stop, failed) == (True, 0, []), f"stop() took {took:.1f} s"
    outcomes = [d.outcome for d in app.state.sandbox.events.deliveries]
    assert outcomes.count("delivered") == sent_by_stop and "failed" not in outcomes
