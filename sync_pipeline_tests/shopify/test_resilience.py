"""The client under pressure: bucket bursts, 5xx, timeouts, and giving up with a clear error."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from sync_pipeline.lib.shopify import ShopifyOutcomeUnknown, ShopifyRetriesExhausted
from sync_pipeline.sandbox.shopify.config import FaultSettings, ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec

from .conftest import Sandbox


def test_burst_over_the_bucket_reaches_the_caller_without_throttled(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    # 120 locations make each read really cost ~123 points (requested 252): 20 reads spend
    # ~2,500 points from a bucket of 300 restoring 1,000/s, so unpaced most would be THROTTLED.
    sb = make_sandbox(ShopifySandboxConfig(bucket_size=300, restore_rate=1000))
    for i in range(120):
        sb.control.add_location(f"Store {i}")
    query = "query L($first: Int!) { locations(first: $first) { nodes { id name } } }"
    for _ in range(20):
        assert len(sb.client.execute("L", query, {"first": 250})["locations"]["nodes"]) == 121
    assert sb.state.stats["requests"] == 20 + sb.state.stats["throttled"]
    assert sb.state.stats["throttled"] <= 2
    assert sb.client.transport.pacer.waited_seconds > 1.0
    assert sb.state.stats["points_spent"] == 20 * 123


def test_5xx_is_retried_then_succeeds(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(ShopifySandboxConfig(faults=FaultSettings(error_rate=0.5, seed=3)))
    for _ in range(10):
        assert sb.client.shop()["name"] == "Sandbox Store"
    assert sb.client.stats.retries > 0


def test_gives_up_naming_operation_attempts_and_last_response(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(ShopifySandboxConfig(faults=FaultSettings(error_rate=1.0)), max_attempts=3)
    with pytest.raises(ShopifyRetriesExhausted) as err:
        sb.client.shop()
    assert err.value.operation == "Shop" and err.value.attempts == 3
    assert "HTTP 503" in err.value.last_response


def test_timeouts_are_retried_for_reads_but_not_for_fulfilment(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(timeout=0.3, max_attempts=3)
    sb.seed()
    placed = sb.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")]))
    (fo,) = sb.client.get_fulfillment_orders(placed["id"])
    sb.control.set_faults(FaultSettings(timeout_rate=1.0, timeout_seconds=1.0))
    with pytest.raises(ShopifyRetriesExhausted) as err:
        sb.client.shop()
    assert "Timeout" in err.value.last_response
    with pytest.raises(ShopifyOutcomeUnknown):
        sb.client.create_fulfillment({fo.id: None})


def test_429_with_retry_after_is_waited_out_then_succeeds(sandbox: Sandbox) -> None:
    sandbox.control.set_faults(FaultSettings(rate_limit_429_next=2, retry_after_seconds=0.4))
    raw = sandbox.post("{ shop { name } }")
    assert raw.status_code == 429 and raw.headers["Retry-After"] == "0.4"
    assert "rate limit" in raw.json()["errors"]
    started = time.monotonic()
    assert sandbox.client.shop()["name"] == "Sandbox Store"  # one more 429, then the real answer
    assert time.monotonic() - started >= 0.4
    assert sandbox.client.stats.throttled == 1 and sandbox.client.stats.retries == 1
    assert sandbox.state.stats["rate_limited"] == 2 and sandbox.state.stats["requests"] == 1
    assert sandbox.state.config.faults.rate_limit_429_next == 0


def test_429_on_every_attempt_gives_up_naming_it(make_sandbox: Callable[..., Sandbox]) -> None:
    faults = FaultSettings(rate_limit_429_next=5, retry_after_seconds=0.05)
    sb = make_sandbox(ShopifySandboxConfig(faults=faults), max_attempts=3)
    with pytest.raises(ShopifyRetriesExhausted) as err:
        sb.client.shop()
    assert "HTTP 429" in err.value.last_response and sb.state.stats["rate_limited"] == 3


def test_a_mutation_is_not_retried_past_the_callers_deadline(make_sandbox: Callable[..., Sandbox]) -> None:
    """`retry_until`: a fulfilment answered 429 with a Retry-After that ends past the caller's
    deadline is not waited for nor sent again (another run may take the send over by then): the
    caller hears at once that it was not sent. A wait that ends before the deadline is waited out."""
    sb = make_sandbox()
    sb.seed()
    placed = sb.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")]))
    (fo,) = sb.client.get_fulfillment_orders(placed["id"])
    sb.control.set_faults(FaultSettings(rate_limit_429_next=1, retry_after_seconds=3))
    started = time.monotonic()
    with pytest.raises(ShopifyRetriesExhausted) as err:
        sb.client.create_fulfillment({fo.id: None}, retry_until=started + 1.0)
    assert time.monotonic() - started < 2.5 and "HTTP 429" in err.value.last_response
    assert "deadline" in err.value.last_response and err.value.attempts == 1
    assert sb.state.stats["rate_limited"] == 1 and sb.control.get_order(placed["id"])["fulfillments"] == []
    sb.control.set_faults(FaultSettings(rate_limit_429_next=1, retry_after_seconds=0.2))
    made = sb.client.create_fulfillment({fo.id: None}, retry_until=time.monotonic() + 20)
    assert [f["id"] for f in sb.control.get_order(placed["id"])["fulfillments"]] == [made.id]


def test_retry_after_header_forms() -> None:
    from sync_pipeline.lib.retry_after import retry_after_seconds as _retry_after

    assert _retry_after("2.0") == 2.0 and _retry_after("3") == 3.0
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # an HTTP date in the past
    assert _retry_after(None) is None and _retry_after("soon") is None and _retry_after("nan") is None
    assert _retry_after("-1") == 0.0


def test_a_call_throttled_by_other_clients_backs_off_and_outlasts_the_contention(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    """Other clients spend the bucket as it refills (fulfilments at a peak): a retry timed only to
    the refill is THROTTLED again, and eight of them used to end the call within seconds. Now each
    THROTTLED wait is also at least half an exponential backoff step, so the call outlasts a few
    seconds of contention and succeeds once it eases, however short the refill."""
    import threading

    # A 1-point query refilling at 5 points/s: each refill wait is 0.2 s, so the old retries gave
    # up after ~3.2 s (seven waits of refill plus pacing); the backoff's half steps from 0.1 s
    # alone add up to 6.35 s over the same seven waits.
    sb = make_sandbox(ShopifySandboxConfig(bucket_size=100, restore_rate=5), backoff_base=0.1)
    stop, draining = threading.Event(), threading.Event()
    contention_seconds = 4.5

    def competitor() -> None:
        with sb.control.__class__(sb.url) as other:
            deadline = time.monotonic() + contention_seconds
            while time.monotonic() < deadline and not stop.is_set():
                other.drain_bucket()
                draining.set()
                time.sleep(0.02)

    sb.client.shop()  # the pacer learns the bucket
    thread = threading.Thread(target=competitor)
    thread.start()
    try:
        assert draining.wait(10)
        started = time.monotonic()
        assert sb.client.shop()["name"] == "Sandbox Store"
        waited = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
    assert sb.client.stats.throttled >= 3  # it was contended, and it did not give up
    assert waited >= contention_seconds * 0.8
