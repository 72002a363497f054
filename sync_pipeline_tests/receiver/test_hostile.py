"""The receiver under hostile traffic: huge bodies, floods of forgeries, repeated callbacks.

The receiver runs in its own process here so its peak memory (VmHWM) can be read on its own.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.rejections import RejectionLog
from sync_pipeline.sandbox.server import free_port

SECRET = "test-webhook-secret"
TOKEN = "callback-token-1234567890-abcdefghij"
MB = 1024 * 1024
SERVE = """
import sys
from pathlib import Path
from sync_pipeline.receiver.app import ReceiverConfig, create_app
from sync_pipeline.sandbox.server import serve_forever
config = ReceiverConfig(inbox_dir=Path(sys.argv[1]), shopify_webhook_secret=sys.argv[2], callback_token=sys.argv[3],
                        shop_domain="brand.myshopify.com")
serve_forever(create_app(config), "127.0.0.1", int(sys.argv[4]), access_log=False)
"""


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def receiver_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Inbox]]:
    inbox_dir = tmp_path_factory.mktemp("hostile") / "inbox"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(inbox_dir), SECRET, TOKEN, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"receiver did not start: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.1)
    try:
        yield url, proc.pid, Inbox(inbox_dir)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _raw_post(
    port: int, path: str, headers: dict[str, str], body_chunks: Iterator[bytes] | None
) -> tuple[int, int]:
    """POST over a raw socket; returns (status, body bytes sent before the server answered)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    sock.sendall(head.encode() + b"\r\n")
    sent = 0
    sock.setblocking(False)
    answer = b""
    try:
        for chunk in body_chunks or iter(()):
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(65536)
            if answer:
                break
            frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            try:
                sock.setblocking(True)
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            finally:
                sock.setblocking(False)
            sent += len(chunk)
        sock.setblocking(True)
        sock.settimeout(30)
        while b"\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    finally:
        sock.close()
    return int(answer.split(b" ", 2)[1]), sent


def test_a_400_mb_declared_body_is_refused_before_reading(receiver_process: tuple[str, int, Inbox]) -> None:
    url, pid, inbox = receiver_process
    port = int(url.rsplit(":", 1)[1])
    before = peak_rss_mb(pid)
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(400 * MB),
        "X-Shopify-Topic": "orders/paid",
    }
    status, _ = _raw_post(port, "/webhooks/shopify", headers, None)  # headers only: no body needed
    assert status == 413
    assert peak_rss_mb(pid) - before < 20
    assert inbox.since("shopify") == []


def test_a_400_mb_streamed_body_stops_being_read_at_the_cap(receiver_process: tuple[str, int, Inbox]) -> None:
    url, pid, inbox = receiver_process
    port = int(url.rsplit(":", 1)[1])
    before = peak_rss_mb(pid)
    chunk = b"x" * MB
    headers = {
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
        "X-Shopify-Topic": "orders/paid",
    }
    status, sent = _raw_post(port, "/webhooks/shopify", headers, (chunk for _ in range(400)))
    assert status == 413
    assert sent < 100 * MB, f"the client could push {sent / MB:.0f} MB before the answer"
    assert peak_rss_mb(pid) - before < 20, f"peak RSS grew {peak_rss_mb(pid) - before:.1f} MB"
    # Also for the Peoplevox path, behind a valid token.
    status, _ = _raw_post(
        port, f"/callbacks/peoplevox/{TOKEN}/AvailabilityChanges",
        {"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"},
        (chunk for _ in range(400)),
    )  # fmt: skip
    assert status == 413
    assert peak_rss_mb(pid) - before < 20
    # And the receiver still serves: a signed webhook right after goes in.
    from sync_pipeline.lib.shopify import sign_webhook

    body = b'{"id": 7}'
    ok = httpx.post(
        f"{url}/webhooks/shopify",
        content=body,
        headers={
            "X-Shopify-Topic": "orders/paid",
            "X-Shopify-Webhook-Id": "wh-after",
            "X-Shopify-Hmac-SHA256": sign_webhook(body, SECRET),
            "X-Shopify-Shop-Domain": "brand.myshopify.com",
        },
        timeout=10,
    )
    assert ok.status_code == 200
    assert len(inbox.since("shopify")) == 1


def test_a_flood_of_forgeries_is_counted_not_written_line_by_line(tmp_path: Path) -> None:
    now = [1000.0]
    log = RejectionLog(tmp_path / "rejected.jsonl", window_seconds=10, clock=lambda: now[0])
    for i in range(5000):
        now[0] = 1000.0 + i * 0.004  # 5,000 forgeries in 20 s
        log.record("shopify", 401, "bad HMAC signature", {"webhook_id": f"forged-{i}", "client": "127.0.0.1"})
    log.record("peoplevox", 401, "bad callback token", {"event": "AvailabilityChanges"})
    log.flush(everything=True)
    lines = [json.loads(line) for line in (tmp_path / "rejected.jsonl").read_text().splitlines()]
    assert len(lines) <= 8
    forged = [line for line in lines if line["reason"] == "bad HMAC signature"]
    # Every refusal is accounted for: first-of-window lines plus the counted repeats.
    assert (
        sum(1 + line.get("repeated", 0) for line in forged if "repeated" not in line)
        + sum(line["repeated"] for line in forged if "repeated" in line)
        == 5000
    )
    assert forged[0]["webhook_id"] == "forged-0" and forged[0]["status"] == 401
    assert any(line["reason"] == "bad callback token" for line in lines)


def test_rejected_log_rotates_and_stays_bounded(tmp_path: Path) -> None:
    log = RejectionLog(tmp_path / "rejected.jsonl", window_seconds=0, max_bytes=10_000, keep=3)
    for i in range(2000):
        # Distinct reasons defeat the counting: rotation must still bound the disk.
        log.record("shopify", 400, f"reason {i}", {"topic": "x" * 5000})
    files = log.files()
    assert [f.name for f in files] == [
        "rejected.jsonl",
        "rejected.jsonl.1",
        "rejected.jsonl.2",
        "rejected.jsonl.3",
    ]
    assert sum(f.stat().st_size for f in files) < 4 * 10_000 + 4 * 1000
    last = json.loads(files[0].read_text().splitlines()[-1])
    assert last["reason"] == "reason 1999" and len(last["topic"]) < 300  # long fields cut
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)


def test_a_flood_over_http_writes_a_few_lines(receiver_process: tuple[str, int, Inbox]) -> None:
    url, _, inbox = receiver_process
    path = inbox.root / "rejected.jsonl"
    before = len(path.read_text().splitlines()) if path.exists() else 0
    with httpx.Client(timeout=10) as client:
        for i in range(300):
            r = client.post(
                f"{url}/webhooks/shopify", content=b"{}",
                headers={"X-Shopify-Topic": "orders/paid", "X-Shopify-Webhook-Id": f"f{i}",
                         "X-Shopify-Hmac-SHA256": "Zm9yZ2Vk"},
            )  # fmt: skip
            assert r.status_code == 401
    assert len(path.read_text().splitlines()) - before <= 3


def test_peoplevox_callbacks_that_are_news_are_all_kept(receiver_process: tuple[str, int, Inbox]) -> None:
    """Availability repeats are news; status/tracking repeats are dropped only when fully identified."""
    url, _, inbox = receiver_process
    base = f"{url}/callbacks/peoplevox/{TOKEN}"
    seen = len(inbox.since("peoplevox"))
    answers = [
        httpx.get(f"{base}/AvailabilityChanges", params={"item": "MUG", "available": a}).text
        for a in ("5", "4", "5", "5")
    ]
    assert answers == ["ok", "ok", "ok", "ok"]
    tracking = {
        "order": "SHP-9",
        "despatch": "DES9",
        "tracking": "TRK1",
        "carrier_number": "1",
        "service": "STD",
    }
    assert httpx.get(f"{base}/TrackingNumberReceived", params=tracking).text == "ok"
    assert httpx.get(f"{base}/TrackingNumberReceived", params=tracking).text == "duplicate ignored"
    assert httpx.get(f"{base}/TrackingNumberReceived", params={**tracking, "tracking": "TRK2"}).text == "ok"
    for _ in range(2):  # events we do not dedupe at all
        assert httpx.get(f"{base}/GoodsReceived", params={"item": "MUG"}).text == "ok"
    new = [i.load() for i in inbox.since("peoplevox")][seen:]
    assert [e["params"].get("available") for e in new if e["event"] == "AvailabilityChanges"] == [
        "5",
        "4",
        "5",
        "5",
    ]
    assert [e["params"]["tracking"] for e in new if e["event"] == "TrackingNumberReceived"] == [
        "TRK1",
        "TRK2",
    ]
    assert len([e for e in new if e["event"] == "GoodsReceived"]) == 2
