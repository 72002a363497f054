"""The tenant's pacer shared across processes: the sliding-window rule, the orders flow's reserve,
crashed owners, and two processes on real HTTP spending one limit without a refusal."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest

from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.lib.peoplevox.pacer import RequestPacer, Slot, Window, settle, wait_before_taking
from sync_pipeline_tests.shopify.test_pacing import Clock


def _clock() -> Clock:
    clock = Clock()
    clock.now = 1_000.0  # a wall clock's time, well past the window's start
    return clock


def _pacer(path: Path, clock: Clock, limit: int = 3, window: float = 10, **kwargs) -> RequestPacer:  # type: ignore[no-untyped-def]
    return RequestPacer(limit, window, clock=clock, sleep=clock.sleep, path=path, **kwargs)


def test_two_pacers_on_one_file_share_one_window(tmp_path: Path) -> None:
    clock = _clock()
    first, second = _pacer(tmp_path / "t.json", clock), _pacer(tmp_path / "t.json", clock)
    for _ in range(2):
        first.release(first.acquire())
    held = second.acquire()  # the third slot: free at once
    assert clock.slept == []
    clock.now += 1
    second.release(held)  # answered at 1,001: frees at 1,011
    first.release(first.acquire())  # a fourth waits for the two answered at 1,000: free at 1,010
    assert clock.slept == [9.0] and clock.now == 1_010.0
    first.acquire()  # answered at 1,001 and 1,010: a third is free
    first.acquire()  # a fourth waits for the one answered late: a window after its answer
    assert clock.now == 1_011.0


def _wait(
    path: Path, now: float, limit: int, window: float, keep_free: int = 0, lend_after: float | None = None
) -> float:
    """What a pacer reading `path` at `now` would wait (its owners all alive)."""
    slots = Window.load(path.read_text())
    settle(slots, now, window, 150, lambda _owner: True)
    return wait_before_taking(slots, now, limit, window, keep_free, lend_after)


def test_a_slot_in_flight_holds_until_answered(tmp_path: Path) -> None:
    clock = _clock()
    pacer = _pacer(tmp_path / "t.json", clock, limit=1, window=2)
    token = pacer.acquire()
    clock.now += 60  # the answer is slow: the slot is still held
    assert _wait(tmp_path / "t.json", clock.now, 1, 2) > 0
    pacer.release(token)
    assert _wait(tmp_path / "t.json", clock.now + 1.9, 1, 2) > 0
    assert _wait(tmp_path / "t.json", clock.now + 2, 1, 2) == 0


def test_other_flows_leave_the_reserve_to_orders(tmp_path: Path) -> None:
    clock = _clock()
    path = tmp_path / "t.json"
    stock, orders = _pacer(path, clock, limit=5, keep_free=2), _pacer(path, clock, limit=5)
    for _ in range(3):
        stock.acquire()
    assert clock.slept == []
    orders.acquire()
    orders.acquire()  # the two kept free: taken at once
    assert clock.slept == []
    assert _wait(path, clock.now, 5, 10, keep_free=2) > 0  # stock: waits
    assert _wait(path, clock.now, 5, 10) > 0  # full for everyone now


def test_a_dead_owners_slot_is_answered_when_noticed_and_a_stale_one_after_stale_after() -> None:
    window = Window([Slot("a", 0.0, None, "here:1"), Slot("b", 0.0, None, "elsewhere:1")])
    settle(window, 5.0, 10, 150, lambda owner: owner != "here:1")
    assert [(s.id, s.finished) for s in window.slots] == [("a", 5.0), ("b", None)]
    assert wait_before_taking(window, 5.0, 2, 10, 0) == pytest.approx(10.0)  # a frees at 15
    settle(window, 149.0, 10, 150, lambda owner: True)
    assert [(s.id, s.finished) for s in window.slots] == [("b", None)]  # a gone; b still in flight
    settle(window, 151.0, 10, 150, lambda owner: True)
    assert window.slots[0].finished == 150.0  # taken as answered at started + stale_after
    settle(window, 160.0, 10, 150, lambda owner: True)
    assert window.slots == []


def test_a_refusal_pauses_every_process(tmp_path: Path) -> None:
    clock = _clock()
    first, second = _pacer(tmp_path / "t.json", clock), _pacer(tmp_path / "t.json", clock)
    first.back_off(7.0)
    second.release(second.acquire())
    assert clock.slept == [7.0]


def test_an_unreadable_file_is_taken_as_a_full_window(tmp_path: Path) -> None:
    clock = _clock()
    (tmp_path / "t.json").write_text("{half")
    pacer = _pacer(tmp_path / "t.json", clock)
    pacer.release(pacer.acquire())
    assert clock.slept == [10.0]


def test_a_clock_gone_back_holds_a_slot_one_window_at_most() -> None:
    window = Window([Slot("a", 100.0, 100.0, "here:1")])
    settle(window, 50.0, 10, 150, lambda _o: True)
    assert wait_before_taking(window, 50.0, 1, 10, 0) == pytest.approx(10.0)


# -- Real processes, real HTTP ------------------------------------------------------------------

LIMIT, WINDOW, CALLS = 6, 2.0, 8  # two processes: 2 x (8 calls + Authenticate) = 18 = 3 windows


def _send(url: str, path: str, start: mp.Barrier, results: mp.Queue) -> None:  # type: ignore[name-defined]
    pacer = RequestPacer(LIMIT, WINDOW, path=Path(path))
    with PeoplevoxClient(url, "sandbox", "integration", "sandbox-password", pacer=pacer) as pvx:
        start.wait(60)
        for _ in range(CALLS):
            pvx.get_save_template("Item types")
        results.put((time.time(), pvx.limit_refusals))


def test_two_processes_share_the_limit_without_a_refusal(make_sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ctx = mp.get_context("spawn")
    start, results = ctx.Barrier(3), ctx.Queue()
    with make_sandbox(requests_per_window=LIMIT, window_seconds=WINDOW) as box:
        senders = [
            ctx.Process(target=_send, args=(box.url, str(tmp_path / "pvx.json"), start, results))
            for _ in range(2)
        ]
        for sender in senders:
            sender.start()
        start.wait(60)  # both imported and at the start line
        began = time.time()
        outcomes = [results.get(timeout=60) for _ in senders]
        for sender in senders:
            sender.join(timeout=30)
        state = box.control.state()
    elapsed = max(done for done, _ in outcomes) - began
    sent = sum(state.counters.requests.values())
    assert sent == 2 * (CALLS + 1) and state.counters.limiter_refused == 0
    assert all(refusals == 0 for _, refusals in outcomes)
    # 18 requests at 6 per 2 s: the last 6 cannot start before two windows have passed (4 s).
    ideal = (sent / LIMIT - 1) * WINDOW
    assert elapsed >= ideal
    print(
        f"two processes: {sent} requests in {elapsed:.2f} s; a perfect pacer {ideal:.1f} s: ratio {ideal / elapsed:.2f}"
    )
    assert ideal / elapsed > 0.5  # most of the limit, even on a loaded machine


def _hold_a_slot(path: str, ready: mp.Event) -> None:
    RequestPacer(1, 1.0, path=Path(path), stale_after=600).acquire()
    ready.set()
    time.sleep(600)


def test_a_process_killed_holding_a_slot_frees_it_a_window_later(tmp_path: Path) -> None:
    path = tmp_path / "pvx.json"
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_a_slot, args=(str(path), ready))
    holder.start()
    try:
        assert ready.wait(60)
        window = Window.load(path.read_text())
        assert [s.finished for s in window.slots] == [None]  # in flight, owned by the holder
    finally:
        assert holder.pid is not None
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(timeout=30)
    started = time.monotonic()
    RequestPacer(1, 1.0, path=path, stale_after=600).acquire()
    waited = time.monotonic() - started
    assert 0.9 <= waited < 5  # a window from when the death was noticed, not stale_after's 600 s


def test_every_step_of_a_brand_paces_through_one_file_and_only_orders_skip_the_reserve(
    tmp_path: Path,
) -> None:
    from sync_pipeline.defs.resources import PeoplevoxResource

    resource = PeoplevoxResource(
        base_url="http://127.0.0.1:1",
        client_id="acme/uk",
        username="u",
        password="p",
        requests_per_window=15,
        window_seconds=15,
        pacer_dir=str(tmp_path),
        orders_reserve=3,
    )
    with resource.get_client(urgent=True) as orders, resource.get_client() as stock:
        assert orders.pacer.path == stock.pacer.path == tmp_path / "peoplevox-acme_uk.pacer.json"
        assert (orders.pacer.keep_free, stock.pacer.keep_free) == (0, 3)


# -- Lending the orders reserve while orders are quiet -------------------------------------------


def test_the_reserve_is_lent_once_no_urgent_caller_asked_and_a_slot_is_answered(tmp_path: Path) -> None:
    clock = _clock()
    path = tmp_path / "t.json"
    stock = _pacer(path, clock, limit=5, keep_free=2, lend_after=10)
    for _ in range(3):
        stock.release(stock.acquire())  # its own three, answered
    stock.acquire()
    stock.acquire()  # the reserve's two, lent: no urgent caller ever asked
    assert clock.slept == []
    assert _wait(path, clock.now, 5, 10) > 0  # full for everyone now


def test_nothing_is_lent_within_lend_after_of_an_urgent_request(tmp_path: Path) -> None:
    clock = _clock()
    path = tmp_path / "t.json"
    # A 30 s window: no slot frees before lending may start, 10 s after the urgent request.
    stock = _pacer(path, clock, limit=5, window=30, keep_free=2, lend_after=10)
    orders = _pacer(path, clock, limit=5, window=30, keep_free=0, urgent=True)
    orders.release(orders.acquire())
    clock.now += 1
    stock.release(stock.acquire())
    stock.release(stock.acquire())
    assert clock.slept == []
    stock.acquire()  # would be a borrow: it waits until lend_after has passed since orders asked
    assert clock.now == pytest.approx(1_010.0)


def test_a_borrow_waits_while_every_slot_is_still_in_flight(tmp_path: Path) -> None:
    clock = _clock()
    path = tmp_path / "t.json"
    stock = _pacer(path, clock, limit=5, keep_free=2, lend_after=10)
    for _ in range(3):
        stock.acquire()  # in flight: none answered, so none would free within a window
    window = Window.load(path.read_text())
    assert wait_before_taking(window, clock.now, 5, 10, 2, lend_after=10) > 0


def test_an_urgent_caller_finds_a_slot_within_one_window_of_a_full_lent_window(tmp_path: Path) -> None:
    clock = _clock()
    path = tmp_path / "t.json"
    stock = _pacer(path, clock, limit=5, keep_free=2, lend_after=10)
    orders = _pacer(path, clock, limit=5, keep_free=0, urgent=True)
    first = stock.acquire()
    clock.now += 3
    stock.release(first)  # answered at 1,003: frees at 1,013
    for _ in range(4):
        stock.acquire()  # two its own, two lent; all four still in flight
    asked = clock.now
    orders.acquire()
    assert clock.now - asked <= 10  # within one window (here at 1,013, when the answered one frees)
    assert _wait(path, clock.now, 5, 10, keep_free=2, lend_after=10) > 0  # and nothing lent after it asked


LEND_LIMIT, LEND_WINDOW, LEND_KEEP, LEND_CALLS = 6, 2.0, 2, 14


class _StampedPacer(RequestPacer):
    """Records when each slot was taken (the request starts right after)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.taken: list[float] = []

    def acquire(self) -> str:
        token = super().acquire()
        self.taken.append(time.time())
        return token


def _stock_reads(url: str, path: str, start: mp.Barrier, results: mp.Queue) -> None:  # type: ignore[name-defined]
    pacer = _StampedPacer(LEND_LIMIT, LEND_WINDOW, path=Path(path), keep_free=LEND_KEEP, lend_after=0.5)
    with PeoplevoxClient(url, "sandbox", "integration", "sandbox-password", pacer=pacer) as pvx:
        start.wait(60)
        for _ in range(LEND_CALLS):
            pvx.get_save_template("Item types")
        results.put(("stock", pacer.taken, pvx.limit_refusals))


def _urgent_one(path: str, start: mp.Barrier, results: mp.Queue) -> None:  # type: ignore[name-defined]
    pacer = RequestPacer(LEND_LIMIT, LEND_WINDOW, path=Path(path), urgent=True)
    start.wait(60)
    time.sleep(1.0)  # the stock reads are going, with the reserve lent
    asked = time.time()
    pacer.release(pacer.acquire())
    results.put(("orders", time.time() - asked, 0))


def test_stock_reads_borrow_the_reserve_and_an_urgent_caller_still_gets_a_slot_within_a_window(
    make_sandbox,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    ctx = mp.get_context("spawn")
    start, results = ctx.Barrier(3), ctx.Queue()
    path = str(tmp_path / "pvx.json")
    with make_sandbox(requests_per_window=LEND_LIMIT, window_seconds=LEND_WINDOW) as box:
        workers = [
            ctx.Process(target=_stock_reads, args=(box.url, path, start, results)),
            ctx.Process(target=_urgent_one, args=(path, start, results)),
        ]
        for worker in workers:
            worker.start()
        start.wait(60)
        outcomes = {
            name: (value, refusals) for name, value, refusals in (results.get(timeout=90) for _ in workers)
        }
        for worker in workers:
            worker.join(timeout=30)
        state = box.control.state()
    taken, refusals = outcomes["stock"]
    assert refusals == 0 and state.counters.limiter_refused == 0  # the server's limit held throughout
    # Without lending, at most LIMIT − KEEP (4) requests can start within any window's span: a slot
    # is reused only a window after its answer. Lent, more did.
    most = max(sum(1 for t in taken if first <= t < first + LEND_WINDOW) for first in taken)
    assert most > LEND_LIMIT - LEND_KEEP
    urgent_wait, _ = outcomes["orders"]
    # One window, and a margin for a busy host's scheduling (the exact bound is the clock test above).
    assert urgent_wait <= LEND_WINDOW + 1.0
    print(f"lent: {most} requests started within one window; the urgent caller waited {urgent_wait:.2f} s")
