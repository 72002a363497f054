"""The request limiter: its refusal shape, and a client that paces itself under it."""

from __future__ import annotations

import time

import httpx

from sync_pipeline.lib.peoplevox.pacer import RequestPacer
from sync_pipeline.sandbox.peoplevox.limiter import LIMIT_DETAIL_PREFIX, SlidingWindowLimiter


def _raw_get_save_template(url: str) -> str:
    body = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<GetSaveTemplate xmlns="http://www.peoplevox.net/"><templateName>Item types</templateName>'
        "</GetSaveTemplate></soap:Body></soap:Envelope>"
    )
    headers = {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": "http://www.peoplevox.net/GetSaveTemplate",
    }
    answer = httpx.post(url, content=body, headers=headers)
    assert answer.status_code == 200
    return answer.text


def test_refusal_shape(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    with make_sandbox(requests_per_window=3, window_seconds=30) as box:
        answers = [_raw_get_save_template(box.asmx) for _ in range(5)]
        assert all("Invalid Session" in a for a in answers[:3])  # counted, then refused on auth
        assert all(LIMIT_DETAIL_PREFIX in a and "<ResponseId>-1</ResponseId>" in a for a in answers[3:])
        assert "Retry after" in answers[4]
        assert box.control.state().counters.limiter_refused == 2


def test_sliding_window_unit() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(2, 10, clock=lambda: now[0])
    assert limiter.try_acquire("c") is None and limiter.try_acquire("c") is None
    assert limiter.try_acquire("c") == 10
    assert limiter.try_acquire("other") is None
    now[0] = 9.5
    assert limiter.try_acquire("c") == 0.5
    now[0] = 10.0
    assert limiter.try_acquire("c") is None


def test_pacer_unit() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = RequestPacer(3, 10, clock=lambda: now[0], sleep=sleep)
    for _ in range(7):
        pacer.release(pacer.acquire())
    assert now[0] >= 20 and len(slept) == 2


def test_paced_client_is_never_refused(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    with make_sandbox(requests_per_window=5, window_seconds=1.0) as box:
        with box.client(requests_per_window=5, window_seconds=1.0) as pvx:
            started = time.monotonic()
            for _ in range(14):
                pvx.get_save_template("Item types")
            elapsed = time.monotonic() - started
        state = box.control.state()
        assert state.counters.limiter_refused == 0
        assert sum(state.counters.requests.values()) == 15  # 14 calls + Authenticate
        assert elapsed >= 2.0


def test_client_recovers_when_the_server_limit_is_tighter(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    with make_sandbox(requests_per_window=3, window_seconds=0.5) as box:
        with box.client(requests_per_window=50, window_seconds=0.5) as pvx:
            for _ in range(8):
                assert "ItemCode" in pvx.get_save_template("Item types")
        assert box.control.state().counters.limiter_refused >= 1
