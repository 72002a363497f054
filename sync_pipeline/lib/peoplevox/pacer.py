"""Client-side pacing that matches the service's sliding-window limiter, shared across processes.

A slot is held from the moment a request starts until its answer arrives, and only frees a
full window after that answer. The server counts a request when it arrives, which is always
between the two, so requests paced this way can never exceed the server's window even with
network jitter.

The limit is the tenant's, not a process's: every Dagster step runs in its own process, so a
pacer given a `path` keeps its slots in that small file (JSON, no secrets: times and owners),
read and rewritten under an OS lock (`fcntl.flock` on a `.lock` file beside it) and replaced
atomically, and every process of the tenant that names the same file shares one budget. Without
a path the slots live in the pacer (tests, one-off CLI clients).

Crash safety: a process killed mid-request never releases its slot. A slot still in flight whose
owner is a dead process on this host is taken as answered when that is noticed (the server counted
it before the owner died, so a window from then is safe); one whose owner cannot be checked (another
host, a reused pid) is taken as answered `stale_after` seconds after it started: the client's HTTP
timeout (120 s) ends every live request before then, so only a dead or hung process holds one
longer. At worst one slot is lost for `stale_after` + a window, never for ever.

Priority: `keep_free` slots of the window are left to others. The orders flow's release and status
steps pace with 0 (they take any free slot); every other flow with `orders_reserve` (3 by default,
settings.PeoplevoxLimits). Why 3 of 15: a release or status step arriving while stock and despatch
reads are busy finds 3 slots at once (its first saves or report reads go without waiting up to a
window, 15 s, behind them), and while it waits for more, every slot that frees is its own (the
others take one only while more than 3 are free); other flows still keep 12 of the 15 when orders
are quiet. More would idle the limit between orders runs; fewer would make a release wave's
first batch queue behind other flows' reads.

Lending the reserve while orders are quiet: a pacer given `lend_after` (the non-urgent ones in
Dagster steps) may also take the reserved slots once no urgent caller has asked for a slot for
`lend_after` seconds (`Window.urgent_at`, stamped by every urgent `acquire`, the ones that wait
included, with the time the caller will look again: the end of its wait), but only while some
slot of the window is already answered (`may_borrow`). That keeps the reserve's promise in a
weaker form: an urgent caller finds a slot within one window of asking. Why: when it asks, either
a slot is free (it takes it at once) or the window is full; a full window that a borrow filled
holds an answered slot (the rule), which frees within a window of its answer, so within a window
of now; no borrow happens between the urgent caller's stamp and its next look (the stamp covers
its sleep, whatever `lend_after` is), and no
other non-urgent caller may take a slot while fewer than `keep_free` are free, so the first slot to
free is the urgent caller's. (A window filled by urgent callers themselves is the orders flow's own
queue, as without lending.) Only while orders are quiet, so stock and despatch reads get all 15
slots of a window rather than 12, and a release or status step that starts waits at most one
window for its first slot instead of none.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05  # every slot in flight: when one frees is unknown until it is answered
DEFAULT_STALE_AFTER = 150.0  # the client's 120 s HTTP timeout and a margin


@dataclass
class Slot:
    id: str
    started: float
    finished: float | None  # None while in flight
    owner: str  # "host:pid"


@dataclass
class Window:
    slots: list[Slot] = field(default_factory=list)
    paused_until: float = 0.0  # a refusal: nobody starts a request before this
    urgent_at: float = 0.0  # the last time an urgent caller asked for a slot, or will ask again

    def dump(self) -> str:
        return json.dumps(
            {
                "paused_until": self.paused_until,
                "urgent_at": self.urgent_at,
                "slots": [[s.id, s.started, s.finished, s.owner] for s in self.slots],
            }
        )

    @classmethod
    def load(cls, text: str) -> Window:
        raw = json.loads(text)
        # A file written before lending existed has no urgent_at: as if urgent callers never asked.
        return cls(
            [Slot(*row) for row in raw["slots"]], float(raw["paused_until"]), float(raw.get("urgent_at", 0.0))
        )


def settle(window: Window, now: float, span: float, stale_after: float, alive: Callable[[str], bool]) -> None:
    """Drop the slots a window past their answer; take dead or stale in-flight slots as answered."""
    for slot in window.slots:
        if slot.finished is None:
            if not alive(slot.owner):
                slot.finished = now
            elif now - slot.started > stale_after:
                slot.finished = slot.started + stale_after
        elif slot.finished > now:  # the wall clock went back: hold it a window from now, no longer
            slot.finished = now
    window.slots = [s for s in window.slots if s.finished is None or now - s.finished < span]


def may_borrow(window: Window, now: float, limit: int, lend_after: float | None) -> bool:
    """Whether a non-urgent caller may take a reserved slot now (the rule in the module docstring):
    no urgent caller asked for `lend_after` seconds, a slot is free, and one is already answered."""
    if lend_after is None or now - window.urgent_at < lend_after:
        return False
    return len(window.slots) < limit and any(s.finished is not None for s in window.slots)


def wait_before_taking(
    window: Window, now: float, limit: int, span: float, keep_free: int, lend_after: float | None = None
) -> float:
    """0 when a slot may be taken now (leaving `keep_free` free, unless the reserve is lent), else
    how long to wait first."""
    if now < window.paused_until:
        return window.paused_until - now
    short = len(window.slots) + 1 + keep_free - limit  # slots that must free first
    if short <= 0 or may_borrow(window, now, limit, lend_after):
        return 0.0
    frees_at = sorted(s.finished + span for s in window.slots if s.finished is not None)
    wait = POLL_SECONDS if len(frees_at) < short else max(frees_at[short - 1] - now, 0.001)
    if lend_after is not None and now - window.urgent_at < lend_after:
        wait = min(wait, max(window.urgent_at + lend_after - now, 0.001))  # look again when lending may start
    return wait


def _this_host() -> str:
    return socket.gethostname()


def owner_alive(owner: str) -> bool:
    """False only for a process of this host that is gone; another host's cannot be checked."""
    host, _, pid = owner.rpartition(":")
    if host != _this_host():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


class RequestPacer:
    def __init__(
        self,
        requests_per_window: int,
        window_seconds: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        *,
        path: Path | None = None,
        keep_free: int = 0,
        urgent: bool = False,
        lend_after: float | None = None,
        stale_after: float = DEFAULT_STALE_AFTER,
        alive: Callable[[str], bool] = owner_alive,
    ) -> None:
        """`urgent`: the orders flow's release and status steps (keep_free 0; every acquire stamps
        the window's `urgent_at`). `lend_after`: a non-urgent pacer may borrow the `keep_free`
        reserve once no urgent caller asked for this many seconds (None: never)."""
        if requests_per_window < 1 or window_seconds <= 0:
            raise ValueError("the limiter needs at least one request per positive window")
        if not 0 <= keep_free < requests_per_window:
            raise ValueError(f"keep_free must be 0 to {requests_per_window - 1}, not {keep_free}")
        self.limit = requests_per_window
        self.window = window_seconds
        self.keep_free = keep_free
        self.urgent = urgent
        self.lend_after = None if urgent else lend_after
        self.stale_after = stale_after
        self.path = path
        self._clock = clock
        self._sleep = sleep
        self._alive = alive
        self._owner = f"{_this_host()}:{os.getpid()}"
        self._memory = Window()
        self._lock = threading.Lock()
        self.waited = 0.0

    @contextlib.contextmanager
    def _shared(self) -> Iterator[Window]:
        """The tenant's window, held exclusively (threads, then processes) and written back."""
        with self._lock:
            if self.path is None:
                yield self._memory
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
                window = self._read()
                yield window
                temporary = self.path.with_name(self.path.name + ".tmp")
                temporary.write_text(window.dump())
                os.replace(temporary, self.path)  # a reader never sees half a file

    def _read(self) -> Window:
        assert self.path is not None
        try:
            return Window.load(self.path.read_text())
        except FileNotFoundError:
            return Window()
        except (ValueError, KeyError, TypeError):
            # Someone else's bytes: assume the window is full rather than guess it empty.
            log.warning("peoplevox pacer: %s unreadable; waiting one window", self.path)
            return Window(paused_until=self._clock() + self.window)

    def acquire(self) -> str:
        """Wait for a free slot; pass the returned token to `release` when the answer is in."""
        while True:
            with self._shared() as window:
                now = self._clock()
                settle(window, now, self.window, self.stale_after, self._alive)
                if self.urgent:
                    window.urgent_at = now  # no lending from now on, while this caller waits too
                wait = wait_before_taking(
                    window, now, self.limit, self.window, self.keep_free, self.lend_after
                )
                if self.urgent and wait > 0:
                    # Until it looks again: stamped only with `now`, lending reopened `lend_after`
                    # later, while it still slept (up to a window), and a borrower woken first
                    # took the slot it was waiting for (review 10).
                    window.urgent_at = now + wait
                if wait == 0:
                    token = uuid.uuid4().hex[:12]
                    window.slots.append(Slot(token, now, None, self._owner))
                    return token
            self.waited += wait
            self._sleep(wait)

    def release(self, token: str) -> None:
        with self._shared() as window:
            now = self._clock()
            mine = [s for s in window.slots if s.id == token]
            if mine:
                mine[0].finished = now
            else:  # taken as stale and dropped meanwhile: it still counts from now
                window.slots.append(Slot(token, now, now, self._owner))

    def back_off(self, seconds: float) -> None:
        """The server refused anyway (another client shares the budget): nobody starts a request
        for `seconds`, and every slot then still holds as long as it would have."""
        with self._shared() as window:
            window.paused_until = max(window.paused_until, self._clock() + seconds)


def tenant_file(directory: Path, client_id: str, configured: Path | None = None) -> Path:
    """The file a tenant's processes pace through: `configured`, else one per client id in
    `directory` (the data directory), since the limiter counts a tenant's requests together."""
    if configured is not None:
        return configured
    return directory / f"peoplevox-{re.sub(r'[^A-Za-z0-9_.-]', '_', client_id)}.pacer.json"
