"""Sessions: created by Authenticate, expire after an idle time measured on real time.

As on the real service (API.md §2), an invalid or expired session is not an HTTP error: the
call answers HTTP 200 with ResponseId -1 and one of the two security Detail texts below.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

INVALID_SESSION = "System : Security - Invalid Session"
SESSION_EXPIRED = "System : Security - Session Expired"
INVALID_CREDENTIALS = "System : Security - Invalid Username or Password"


@dataclass
class _Session:
    client_id: str
    last_used: float
    calls: int = 0
    expired: bool = False


class SessionStore:
    def __init__(self, idle_timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_timeout = idle_timeout
        self.max_calls: int | None = None
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def create(self, client_id: str) -> str:
        session_id = secrets.token_hex(16)
        with self._lock:
            self._sessions[session_id] = _Session(client_id, self._clock())
        return session_id

    def check(self, client_id: str, session_id: str) -> str | None:
        """None if the session may be used (and marks it used), else the security Detail."""
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.client_id != client_id:
                return INVALID_SESSION
            if session.expired or now - session.last_used > self.idle_timeout:
                session.expired = True
                return SESSION_EXPIRED
            if self.max_calls is not None and session.calls >= self.max_calls:
                session.expired = True
                return SESSION_EXPIRED
            session.last_used = now
            session.calls += 1
            return None

    def expire_all(self) -> int:
        with self._lock:
            live = [s for s in self._sessions.values() if not s.expired]
            for session in live:
                session.expired = True
            return len(live)

    def live_count(self) -> int:
        now = self._clock()
        with self._lock:
            return sum(
                1 for s in self._sessions.values() if not s.expired and now - s.last_used <= self.idle_timeout
            )
