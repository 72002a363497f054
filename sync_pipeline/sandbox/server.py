"""Run an ASGI app on 127.0.0.1 in a background thread (tests, demo) or in the foreground (CLI)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

# How long a server keeps an idle connection open. Uvicorn's default (5 s) equals httpx's
# `keepalive_expiry`, so a client could send on a pooled connection in the instant the server
# closed it: "Server disconnected without sending a response" (seen once on a loaded machine, a
# test's second call to the Shopify sandbox more than 5 s after its first). Longer than any of our
# clients keeps one, the client always lets go first.
KEEP_ALIVE = 75


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing is listening on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BackgroundServer:
    """A uvicorn server in a daemon thread; `url` is ready once `start()` returns."""

    def __init__(self, app: Any, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port()
        config = uvicorn.Config(
            app, host=host, port=self.port, log_level="warning", lifespan="on", timeout_keep_alive=KEEP_ALIVE
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"asgi:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"server on port {self.port} exited during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on port {self.port} did not start within {timeout}s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@contextmanager
def serve_in_thread(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 for the duration of the block; yields the base URL."""
    server = BackgroundServer(app, port=port).start()
    try:
        yield server.url
    finally:
        server.stop()


def serve_forever(app: Any, host: str, port: int, access_log: bool = True) -> None:
    """Serve `app` in the foreground until Ctrl-C (used by `sync-pipeline sandbox …`).

    `access_log=False` for anything whose URLs carry a secret (the receiver's callback token).
    """
    uvicorn.run(
        app, host=host, port=port, log_level="info", access_log=access_log, timeout_keep_alive=KEEP_ALIVE
    )
