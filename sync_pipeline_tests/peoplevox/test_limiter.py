"""The request limiter: its refusal shape, and a client that paces itself under it."""

from __future__ import annotations

import time

import httpx
import pytest

from sync_pipeline.lib.peoplevox.answers import retry_after as _retry_after
from sync_pipeline.lib.peoplevox.pacer import RequestPacer
from sync_pipeline.sandbox.peoplevox.limiter import LIMIT_DETAIL_PREFIX, LIMIT_SHAPES, SlidingWindowLimiter


def _raw_get_save_template(url: str) -> str:
    answer = _raw_get_save_template_answer(url)
    assert answer.status_code == 200
    return answer.text


def _raw_get_save_template_answer(url: str) -> httpx.Response:
    body = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<GetSaveTemplate xmlns="http://www.peoplevox.net/"><templateName>Item types</templateName>'
        "</GetSaveTemplate></soap:Body></soap:Envelope>"
    )
    headers = {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": "http://www.peoplevox.net/GetSaveTemplate",
    }
    return httpx.post(url, content=body, headers=headers)


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


# -- The refusal's shape is unknown (API.md §11): the sandbox can answer in each, the client copes


WIRE_SHAPES = {
    "detail": (200, None, LIMIT_DETAIL_PREFIX),
    "http_429": (429, "whole seconds", "Too Many Requests"),
    "http_429_no_retry_after": (429, None, "Too Many Requests"),
    "http_503": (503, None, "Service Unavailable"),
    "soap_fault": (500, None, "soap:Server"),
}


def test_every_shape_is_tested() -> None:
    assert set(WIRE_SHAPES) == set(LIMIT_SHAPES)


@pytest.mark.parametrize("shape", LIMIT_SHAPES)
def test_refusal_on_the_wire(make_sandbox, shape: str) -> None:  # type: ignore[no-untyped-def]
    status, retry_after, text = WIRE_SHAPES[shape]
    # A long window: the second request is refused however slow the machine is.
    with make_sandbox(requests_per_window=1, window_seconds=30, limit_shape=shape) as box:
        _raw_get_save_template_answer(box.asmx)
        refused = _raw_get_save_template_answer(box.asmx)
        assert refused.status_code == status
        header = refused.headers.get("retry-after")
        if retry_after == "whole seconds":
            assert header is not None and header.isdigit() and 1 <= int(header) <= 30
        else:
            assert header is None
        assert text in refused.text
        if shape == "soap_fault":
            assert "Request limit exceeded" in refused.text


@pytest.mark.parametrize("shape", LIMIT_SHAPES)
def test_client_backs_off_and_retries_on_each_shape(make_sandbox, shape: str) -> None:  # type: ignore[no-untyped-def]
    """The server allows 2 requests in 3 s; the client believes 50 in 0.5 s. Its third request
    (the save) is refused, however slow the machine; it waits and resends until let in. A
    refused save did nothing, so it is saved exactly once."""
    with make_sandbox(requests_per_window=2, window_seconds=3.0, limit_shape=shape) as box:
        with box.client(requests_per_window=50, window_seconds=0.5, max_retries=30) as pvx:
            assert "ItemCode" in pvx.get_save_template("Item types")  # after Authenticate
            rows = [{"ItemCode": f"L{i}", "Barcode": f"9{i}", "Name": "n"} for i in range(3)]
            assert pvx.save_data("Item types", rows).ok
            refusals = pvx.limit_refusals
        state = box.control.state()
        assert state.settings["limit_shape"] == shape
        assert state.counters.limiter_refused == refusals > 0
        assert state.counters.save_calls["Item types"] == 1
        assert [r["item_code"] for r in state.items] == ["L0", "L1", "L2"]


def test_retry_after_header_forms() -> None:
    assert _retry_after(None) is None and _retry_after("") is None and _retry_after("soon") is None
    assert _retry_after("2") == 2.0 and _retry_after(" 1.5 ") == 1.5
    assert _retry_after("-3") == 0.0 and _retry_after("86400") == 120.0  # never negative, capped
    assert _retry_after("Thu, 01 Jan 1970 00:00:00 GMT") == 0.0  # an HTTP date in the past
