"""Faults on a schedule, through the sandboxes' control APIs and the processes the rehearsal owns.

Rate faults (5xx, timeouts, dropped or duplicated deliveries) last `seconds` and are then put
back; counted ones (429s, an emptied bucket, expired sessions, refused Peoplevox requests) hit
once. A killed run worker and a restarted daemon act on the processes this rehearsal started.

Each fault's effects are counted from the sandboxes' own counters over the time the fault was in
force (a rate fault's window; an emptied bucket's refill; a counted fault until the rehearsal
ends, its counter being the fault's alone), so a fault that touched nothing shows as such in the
report instead of passing for a fault the product survived.
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


# The sandbox counter that counts each fault's effects: (system, counter). Faults not listed count
# their effect when applied (sessions expired, a run worker killed, the daemon restarted).
EFFECT_COUNTERS = {
    "shopify_5xx": ("shopify", "errors_injected"),
    "shopify_timeouts": ("shopify", "timeouts_injected"),
    "shopify_429": ("shopify", "rate_limited"),
    "throttled": ("shopify", "throttled"),
    "webhooks_dropped": ("shopify", "webhooks_dropped"),
    "webhooks_duplicated": ("shopify", "webhooks_duplicated"),
    "pvx_limiter_refusals": ("peoplevox", "refused_on_purpose"),
    "callbacks_dropped": ("peoplevox", "callbacks_dropped"),
    "callbacks_duplicated": ("peoplevox", "callbacks_duplicated"),
}
EFFECT_NAMES = {
    "shopify_5xx": "calls answered 503",
    "shopify_timeouts": "calls timed out",
    "shopify_429": "calls answered 429",
    "throttled": "calls THROTTLED while the bucket refilled",
    "webhooks_dropped": "webhooks dropped",
    "webhooks_duplicated": "webhooks delivered twice",
    "pvx_limiter_refusals": "Peoplevox requests refused",
    "callbacks_dropped": "callbacks dropped",
    "callbacks_duplicated": "callbacks delivered twice",
    "pvx_session_expiry": "sessions expired",
    "kill_run_worker": "run workers killed",
    "restart_daemon": "daemon restarts",
}


@dataclass
class Injected:
    fault: str
    at: float  # seconds after the sale started
    what: str  # what was done, for the report
    effects: int | None = None  # what it did (EFFECT_NAMES); None: not counted (yet)
    effect: str = ""  # what `effects` counts
    pid: int | None = None  # the run worker a `kill_run_worker` fault SIGKILLed
    # Counter value when the fault began (None: the sandbox did not answer, the fault is not
    # counted), and when its count closes (seconds after the sale began; None: at the end).
    _before: float | None = field(default=None, repr=False)
    _closes: float | None = field(default=None, repr=False)

    @property
    def open(self) -> bool:
        """Still being counted."""
        return self.effects is None and self._before is not None

    @property
    def report(self) -> dict[str, Any]:
        """The fault as the report shows it: `had_effect` False for one that touched nothing, None
        for one that could not be counted."""
        return {"fault": self.fault, "at": self.at, "what": self.what, "effects": self.effects,
                "effect": self.effect, "had_effect": None if self.effects is None else self.effects > 0}  # fmt: skip


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
    _killed: int | None = None  # the pid the last kill_run_worker took (moved onto its record)
    _refill_seconds: float = 20.0  # an emptied bucket's refill time (set when it is emptied)

    def run(self, schedule: list[ScheduledFault], started: float, stop: threading.Event) -> None:
        """Apply each fault at its time; rate faults are reverted after their duration. Returns once
        every fault is applied and reverted; `close_counts` finishes the counting."""
        reverts: list[tuple[float, str]] = []
        pending = list(schedule)
        while not stop.is_set() and (pending or reverts or self._counts_due()):
            now = time.monotonic() - started
            for when, name in [r for r in reverts if r[0] <= now]:
                reverts.remove((when, name))
                self._set_rate(name, 0.0)
            self._close_due(now)
            while pending and pending[0].at <= now:
                fault = pending.pop(0)
                before = self._counter(fault.fault)
                try:
                    what, applied = self.apply(fault), True
                except Exception as error:  # a fault that could not be applied is reported, not fatal
                    what, applied = f"could not apply: {error}", False
                self.injected.append(self._counting(fault, round(now, 1), what, before, applied))
                self.log(f"fault at {now:.0f}s: {fault.fault}: {what}")
                if fault.fault in SHOPIFY_RATE_FIELDS or fault.fault in PVX_RATE_FIELDS:
                    reverts.append((now + fault.seconds, fault.fault))
            stop.wait(0.5)
        for _, name in reverts:
            self._set_rate(name, 0.0)
        for fault in pending:  # scheduled, never applied: a fault with no effect, shown as one
            what = "not applied: the rehearsal stopped first"
            self.injected.append(self._counting(fault, fault.at, what, None, applied=False))

    def _counting(
        self, fault: ScheduledFault, at: float, what: str, before: float | None, applied: bool
    ) -> Injected:
        """The record of a fault just applied, with its count started (or done, for one that
        counts when applied, or could not be applied)."""
        done = Injected(fault.fault, at, what, effect=EFFECT_NAMES[fault.fault])
        if fault.fault == "kill_run_worker":
            done.pid, self._killed = self._killed, None
        if not applied:
            done.effects = 0
        elif fault.fault not in EFFECT_COUNTERS:
            done.effects = self._applied_effects(fault.fault, what)
        elif before is None:
            done.effect += " (not counted: the sandbox did not answer)"
        else:
            done._before = before
            if fault.fault in SHOPIFY_RATE_FIELDS or fault.fault in PVX_RATE_FIELDS:
                done._closes = at + fault.seconds
            elif fault.fault == "throttled":
                done._closes = at + self._refill_seconds
        return done

    def _counts_due(self) -> bool:
        return any(x.open and x._closes is not None for x in self.injected)

    def _close_due(self, now: float) -> None:
        for x in self.injected:
            if x.open and x._closes is not None and x._closes <= now:
                self._close(x)

    def close_counts(self) -> None:
        """Count what every fault still open did, up to now (call once the peak is over)."""
        for x in self.injected:
            if x.open:
                self._close(x)

    def _close(self, x: Injected) -> None:
        after = self._counter(x.fault)
        if after is None or x._before is None:
            x._before, x.effect = None, x.effect + " (not counted: the sandbox did not answer)"
        else:
            x.effects = round(after - x._before)

    def _counter(self, fault: str) -> float | None:
        """The sandbox counter of the fault's effects now (None: the sandbox did not answer)."""
        if fault not in EFFECT_COUNTERS:
            return 0.0
        system, name = EFFECT_COUNTERS[fault]
        if system == "peoplevox":
            if name == "refused_on_purpose":
                return float(self.pvx_state.limiter.refused_on_purpose)
            return float(getattr(self.pvx_state.events, name.removeprefix("callbacks_")))
        try:
            return float(self.shop.stats().get(name, 0))
        except Exception as error:  # busy at the peak: that fault goes uncounted, the rehearsal goes on
            self.log(f"fault counters: Shopify sandbox did not answer: {error}")
            return None

    @staticmethod
    def _applied_effects(fault: str, what: str) -> int:
        """Faults whose effect is known when applied: sessions expired, a worker killed, a restart."""
        if what.startswith("could not apply") or what.startswith("no run worker"):
            return 0
        if fault == "pvx_session_expiry":
            return int(what.split(" ", 1)[0])
        return 1

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
            self._refill_seconds = status["maximumAvailable"] / status["restoreRate"]
            return f"bucket emptied (refills at {status['restoreRate']:g}/s)"
        if name == "pvx_session_expiry":
            return f"{self.pvx_state.sessions.expire_all()} session(s) expired"
        if name == "pvx_limiter_refusals":
            # The next `count` requests, whenever they come: filling the window instead refused
            # nothing in a rehearsal where no request fell inside it (issue 13, 12 then 0).
            self.pvx_state.limiter.refuse_next(fault.count)
            return f"next {fault.count} Peoplevox requests refused (the limit taken by another caller)"
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
                self._killed = pid
                return f"run worker pid {pid} SIGKILLed ({len(workers)} in flight)"
            time.sleep(0.5)
        return f"no run worker in flight within {wait:g}s: nothing killed"
