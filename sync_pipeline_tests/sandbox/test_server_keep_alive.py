"""The sandboxes keep an idle connection open longer than our clients do, so a client never sends
on a pooled connection in the instant the server closes it ("Server disconnected without sending
a response", seen once on a loaded machine when both gave up after 5 s)."""

import socket
import time

import httpx

from sync_pipeline.sandbox.server import KEEP_ALIVE, serve_in_thread


async def app(scope: dict, receive: object, send: object) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]


def _get(sock: socket.socket) -> bytes:
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return sock.recv(4096)


def test_an_idle_connection_outlives_the_clients_keep_alive() -> None:
    client_expiry = httpx.Limits().keepalive_expiry or 0.0
    assert client_expiry + 30 < KEEP_ALIVE
    with serve_in_thread(app) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            assert _get(sock).startswith(b"HTTP/1.1 200")
            time.sleep(client_expiry + 1.5)  # past uvicorn's default of 5 s, which closed it here
            assert _get(sock).startswith(b"HTTP/1.1 200")
