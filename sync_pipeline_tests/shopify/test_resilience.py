"""The client under pressure: bucket bursts, 5xx, timeouts, and giving up with a clear error."""

from __future__ import annotations

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
