"""Over real HTTP: a background reader leaves the shop's bucket to a foreground client that keeps it
low, and reads once the foreground is done; at normal priority it reads alongside."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import ProductSpec, VariantSpec

from .conftest import TOKEN, Sandbox

# Requested cost 2 + first x 3 (connection, node, product, inventory item): 152 for the foreground,
# 32 for the background's pages. The bucket (400, 200/s) never holds 32 + three quarters of 400
# while the foreground spends 152 as soon as it can: it would have to stall ~1.7 s (the margin
# against a busy CI host; half the bucket left 1.2 s).
VARIANTS = "query Variants($first: Int!) { productVariants(first: $first) { nodes { id product { id } inventoryItem { id } } } }"
FOREGROUND_SECONDS = 3.0
PAGES = 4


def _run(make_sandbox: Callable[..., Sandbox], reserve_share: float) -> tuple[list[float], ShopifyClient]:
    """Times (from the start) at which each background page came back, and the background client."""
    sandbox = make_sandbox(ShopifySandboxConfig(bucket_size=400, restore_rate=200))
    sandbox.control.add_product(
        ProductSpec(title="Tee", variants=[VariantSpec(sku=f"TEE-{n}", title=f"T{n}") for n in range(60)])
    )
    foreground = sandbox.client  # a hot-path client: no reserve
    background = ShopifyClient(sandbox.url, TOKEN, backoff_base=0.05, reserve_share=reserve_share)
    started = time.monotonic()

    def spend() -> None:
        while time.monotonic() - started < FOREGROUND_SECONDS:
            foreground.execute("Variants", VARIANTS, {"first": 50})

    spender = threading.Thread(target=spend)
    spender.start()
    done: list[float] = []
    try:
        time.sleep(0.5)  # the foreground has the bucket low by now
        for _ in range(PAGES):
            background.execute("Variants", VARIANTS, {"first": 10})
            done.append(time.monotonic() - started)
    finally:
        spender.join()
        background.close()
    return done, background


def test_a_background_reader_waits_while_the_foreground_keeps_the_bucket_low(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    normal, _ = _run(make_sandbox, reserve_share=0.0)
    assert normal[0] < FOREGROUND_SECONDS - 0.5, normal  # at normal priority it reads alongside

    yielding, background = _run(make_sandbox, reserve_share=0.75)
    # Not one page went while the foreground kept the bucket below cost + reserve …
    assert min(yielding) >= FOREGROUND_SECONDS - 0.2, yielding
    # … it asked Shopify (cheap probes) instead of trusting its own estimate, and was never throttled.
    assert background.stats.by_operation.get("CostProbe", 0) >= 2
    assert background.stats.throttled == 0
    assert background.yielded_seconds >= FOREGROUND_SECONDS - 1.0
    # Once the foreground stopped, it read at once (the bucket refills in 2 s).
    assert yielding[-1] < FOREGROUND_SECONDS + 5.0, yielding
