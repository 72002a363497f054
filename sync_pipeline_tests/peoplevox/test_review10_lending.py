"""Review 10: lending the orders reserve (pacer.py) promises an urgent caller a slot within one window
of asking. The urgent caller stamps `urgent_at` when it asks, then sleeps until a slot frees (up to a
window); lending opens again `lend_after` after the stamp. With `lend_after` under the window
(PEOPLEVOX_LEND_RESERVE_AFTER_SECONDS may be any value), or equal to it when the slot frees just then,
a borrower wakes first and takes the slot the urgent caller was waiting for. Real pacer files, a
fake clock, so the interleaving is exact. Fixed: the urgent caller's stamp covers its sleep."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_pipeline.lib.peoplevox.pacer import RequestPacer, Window, settle, wait_before_taking
from sync_pipeline_tests.shopify.test_pacing import Clock


@pytest.mark.parametrize("lend_after", [5.0, 10.0])
def test_an_urgent_caller_is_not_overtaken_by_a_borrow_while_it_sleeps(
    tmp_path: Path, lend_after: float
) -> None:
    clock = Clock()
    clock.now = 1_000.0
    path = tmp_path / "t.json"
    stock = RequestPacer(3, 10, clock=clock, sleep=clock.sleep, path=path, keep_free=1, lend_after=lend_after)
    first, second = stock.acquire(), stock.acquire()  # stock's own two
    stock.release(first)  # answered at 1,000: frees at 1,010
    stock.acquire()  # the reserve, lent: nobody urgent asked yet, one slot answered

    def sleep_while_stock_works(seconds: float) -> None:
        # While the urgent caller sleeps: stock's second request is answered at 1,001, and when
        # the first slot frees (1,010) a stock process polling for a borrow wakes first and takes
        # a slot if its pacer lets it (it does not sleep here: the clock is the urgent caller's).
        if not tried:
            clock.now = 1_001.0
            stock.release(second)
            clock.now = 1_010.0
            window = Window.load(path.read_text())
            settle(window, clock.now, 10, 150, lambda _owner: True)
            if wait_before_taking(window, clock.now, 3, 10, 1, lend_after) == 0:
                stock.acquire()
            tried.append(clock.now)
            seconds = 0.0
        clock.sleep(seconds)

    tried: list[float] = []
    orders = RequestPacer(3, 10, clock=clock, sleep=sleep_while_stock_works, path=path, urgent=True)
    asked = clock.now
    orders.acquire()
    assert tried, "a borrow was tried while the urgent caller slept"
    assert clock.now - asked <= 10.0
