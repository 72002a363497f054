"""Runs the warehouse in (scaled) real time for the demo: a thread that advances the clock."""

from __future__ import annotations

import threading
import time

from sync_pipeline.sandbox.peoplevox.warehouse import Warehouse


class Ticker:
    def __init__(self, warehouse: Warehouse, time_scale: float, interval: float) -> None:
        self.warehouse = warehouse
        self.time_scale = time_scale
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, time_scale: float | None = None) -> None:
        if time_scale is not None:
            self.time_scale = time_scale
        if self.running or self.time_scale <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="pvx-ticker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.interval):
            now = time.monotonic()
            self.warehouse.advance((now - last) * self.time_scale)
            last = now
