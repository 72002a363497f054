"""One sandbox instance: the warehouse, sessions, limiter, events, faults and counters together.

Nothing is global: each `create_app` builds its own `SandboxState`, so parallel tests never
share anything.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

from sync_pipeline.sandbox.peoplevox.clock import SimClock
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig, SaveResultShape
from sync_pipeline.sandbox.peoplevox.events import EventHub
from sync_pipeline.sandbox.peoplevox.limiter import SlidingWindowLimiter
from sync_pipeline.sandbox.peoplevox.sessions import SessionStore
from sync_pipeline.sandbox.peoplevox.ticker import Ticker
from sync_pipeline.sandbox.peoplevox.warehouse import Warehouse, WarehouseSettings


class Counters:
    """Requests per operation, per operation and template or report name, and SaveData volume,
    for assertions and benchmarks (the limiter is per request, so which read makes them matters)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        # "GetReportData Sales order summary": the key is the operation and its TemplateName.
        self.requests_by_name: Counter[str] = Counter()
        self.save_calls: Counter[str] = Counter()
        self.save_rows: Counter[str] = Counter()
        self.save_rows_failed: Counter[str] = Counter()
        self.limiter_refused = 0
        self.faults_injected: Counter[str] = Counter()

    def add(self, counter: str, key: str, amount: int = 1) -> None:
        with self._lock:
            getattr(self, counter)[key] += amount

    def refused(self) -> None:
        with self._lock:
            self.limiter_refused += 1

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "requests_by_name": dict(self.requests_by_name),
                "save_calls": dict(self.save_calls),
                "save_rows": dict(self.save_rows),
                "save_rows_failed": dict(self.save_rows_failed),
                "save_calls_total": sum(self.save_calls.values()),
                "save_rows_total": sum(self.save_rows.values()),
                "limiter_refused": self.limiter_refused,
                "faults_injected": dict(self.faults_injected),
            }


class SandboxState:
    def __init__(self, config: PeoplevoxSandboxConfig) -> None:
        self.config = config
        self.faults = config.faults
        self.clock = SimClock()
        self.events = EventHub(self.faults)
        settings = WarehouseSettings(
            sites=tuple(config.sites),
            allocation_delay=config.allocation_delay,
            allocation_retry=config.allocation_retry,
            picking_after=config.picking_after,
            packing_after=config.packing_after,
            despatch_after=config.despatch_after,
            units_per_package=config.units_per_package,
            short_pick_rate=config.short_pick_rate,
            late_tracking_rate=config.late_tracking_rate,
            tracking_delay=config.tracking_delay,
            cancel_cutoff_status=config.cancel_cutoff_status,
            line_cutoff_status=config.line_cutoff_status,
            cancel_by_import=config.cancel_by_import,
            reported_statuses=dict(config.reported_statuses),
            seed=config.seed,
        )
        self.warehouse = Warehouse(self.clock, settings, emit=self.events.emit)
        self.sessions = SessionStore(config.session_idle_timeout)
        self.sessions.max_calls = self.faults.session_max_calls
        self.limiter = SlidingWindowLimiter(
            config.requests_per_window, config.window_seconds, shape=config.limit_shape
        )
        self.ticker = Ticker(self.warehouse, config.time_scale, config.ticker_interval)
        self.counters = Counters()
        self.save_result_shape: SaveResultShape = config.save_result_shape
        self.rng = random.Random(self.faults.seed)
        self._fault_lock = threading.Lock()

    def take_fault(self, name: str) -> bool:
        """Consume one unit of a `*_next` fault counter; True if this request is hit."""
        with self._fault_lock:
            remaining = getattr(self.faults, name)
            if remaining > 0:
                setattr(self.faults, name, remaining - 1)
                self.counters.add("faults_injected", name)
                return True
            return False

    def roll(self, rate: float, name: str) -> bool:
        with self._fault_lock:
            hit = rate > 0 and self.rng.random() < rate
        if hit:
            self.counters.add("faults_injected", name)
        return hit

    def start(self) -> None:
        self.events.start()
        self.ticker.start()

    def stop(self) -> None:
        self.ticker.stop()
        self.events.stop()
