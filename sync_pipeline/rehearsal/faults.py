"""Faults on a schedule, through the sandboxes' control APIs and the processes the rehearsal owns.

Rate faults (5xx, timeouts, dropped or duplicated deliveries) last `seconds` and are then put
back; counted ones (429s, an emptied bucket, expired sessions, a filled limiter window) hit
once. A killed run worker and a restarted daemon act on the processes this rehearsal started.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sync_pipeline.rehearsal.profile import ScheduledFault
from sync_pipeline.sandbox.shopify.control import FaultSettings, SandboxControl

# Shopify fault fields each rate fault sets (FaultSettings holds them all, so they are merged).
SHOPIFY_RATE_FIELDS = {
    "shopify_5xx": "error_rate",
    "shopify_timeouts": "timeout_rate",
    "webhooks_dropped": "webhook_drop_rate",
    "webhooks_duplicated": "webhook_duplicate_rate",
}
PVX_RATE_FIELDS = {
    "callbacks_dropped": "callback_drop_rate",
    "callbacks_duplicated": "callback_duplicate_rate",
}


@dataclass
class Injected:
    fault: str
    at: float  # seconds after the sale started
    what: str  # what was done, for the report


@dataclass
class Processes:
    """What the injector may do to Dagster: find run workers, restart the daemon."""

    run_workers: Callable[[], list[int]]
    restart_daemon: Callable[[], str]


@dataclass
class FaultInjector:
    shop: SandboxControl
    pvx_state: Any  # the in-process Peoplevox sandbox's SandboxState
    processes: Processes
    log: Callable[[str], None]
    injected: list[Injected] = field(default_factory=list)
    _shopify: FaultSettings = field(default_factory=lambda: FaultSettings(timeout_seconds=8.0, seed=13))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, schedule: list[ScheduledFault], started: float, stop: threading.Event) -> None:
        """Apply each fault at its time; rate faults are reverted after their duration."""
        reverts: list[tuple[float, str]] = []
        pending = list(schedule)
        while not stop.is_set() and (pending or reverts):
            now = time.monotonic() - started
            for when, name in [r for r in reverts if r[0] <= now]:
                reverts.remove((when, name))
                self._set_rate(name, 0.0)
            while pending and pending[0].at <= now:
                fault = pending.pop(0)
                try:
                    what = self.apply(fault)
                except Exception as error:  # a fault that could not be applied is reported, not fatal
                    what = f"could not apply: {error}"
                self.injected.append(Injected(fault.fault, round(now, 1), what))
                self.log(f"fault at {now:.0f}s: {fault.fault}: {what}")
                if fault.fault in SHOPIFY_RATE_FIELDS or fault.fault in PVX_RATE_FIELDS:
                    reverts.append((now + fault.seconds, fault.fault))
            stop.wait(0.5)
        for _, name in reverts:
            self._set_rate(name, 0.0)

    def clear(self) -> None:
        for name in (*SHOPIFY_RATE_FIELDS, *PVX_RATE_FIELDS):
            self._set_rate(name, 0.0)

    def apply(self, fault: ScheduledFault) -> str:
        name = fault.fault
        if name in SHOPIFY_RATE_FIELDS or name in PVX_RATE_FIELDS:
            self._set_rate(name, fault.rate)
            return f"{fault.rate:.0%} for {fault.seconds:g}s"
        if name == "shopify_429":
            with self._lock:
                self._shopify.rate_limit_429_next = fault.count
                self.shop.set_faults(self._shopify)
                self._shopify.rate_limit_429_next = 0  # counts down in the sandbox
            return f"next {fault.count} Admin API calls answered 429"
        if name == "throttled":
            status = self.shop.drain_bucket()
            return f"bucket emptied (refills at {status['restoreRate']:g}/s)"
        if name == "pvx_session_expiry":
            return f"{self.pvx_state.sessions.expire_all()} session(s) expired"
        if name == "pvx_limiter_refusals":
            limiter = self.pvx_state.limiter
            taken = sum(
                1
                for _ in range(limiter.limit)
                if limiter.try_acquire(self.pvx_state.config.client_id) is None
            )
            return f"{taken} requests of the window taken by another caller"
        if name == "kill_run_worker":
            return self._kill_run_worker()
        if name == "restart_daemon":
            return self.processes.restart_daemon()
        raise ValueError(f"unknown fault {name!r}")

    def _set_rate(self, name: str, rate: float) -> None:
        if name in PVX_RATE_FIELDS:
            setattr(self.pvx_state.faults, PVX_RATE_FIELDS[name], rate)
            return
        with self._lock:
            setattr(self._shopify, SHOPIFY_RATE_FIELDS[name], rate)
            self.shop.set_faults(self._shopify)

    def _kill_run_worker(self, wait: float = 60.0) -> str:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            workers = self.processes.run_workers()
            if workers:
                pid = workers[0]
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue  # it finished meanwhile; take the next one
                return f"run worker pid {pid} SIGKILLed ({len(workers)} in flight)"
            time.sleep(0.5)
        return f"no run worker in flight within {wait:g}s: nothing killed"
