"""A tenant's Peoplevox session, shared by its processes through a file beside the pacer's.

Why: every Dagster run is its own process, and a client that kept its session only in memory
authenticated once a run: 64 of the 525 Peoplevox requests of the session-9 rehearsal, 12 % of
a limiter that every request counts against (Authenticate too). A session outlives a run by far
(the service drops it after about 30 minutes idle, API.md §2), so runs now take the one the last
run left, and a tenant authenticates about once per idle half hour instead of once a run.

The decision, since a session id is a credential (it acts as the API user until it expires):
* **Where**: one small JSON file per tenant in the data directory, beside the pacer file
  (`peoplevox-<client id>.session.json`, `session_path`): the directory that already holds the
  ledger (customer names and addresses), with the same reach. Never in DuckDB, never logged,
  never in an exception message or `repr`.
* **How it is protected**: created with mode 0600 (owner read/write only, set on the open, so
  there is no moment it is readable by others, whatever the umask) as a new temporary file (never
  through a link planted at its name) and moved into place atomically. A
  file that others can read or write, or that another user owns, is not trusted: it is ignored
  (and replaced by this process's own session on its next Authenticate).
* **What it holds**: the endpoint and user it belongs to (a file written for another endpoint
  or user is ignored), the session id and when a process last used it (wall clock, shared).
  Not the password: that stays in the environment, as before.
* **Expiry**: a session not used for `max_idle` (the client's `session_refresh_seconds`, 25
  minutes, under the service's 30) is not taken; the client authenticates. A session the service
  calls expired or invalid is not taken again: the client reads the file once more (another
  process may have renewed it already), else authenticates once, writes the new session, and
  repeats the call once (client.py). Two processes renewing at once cost one extra Authenticate:
  the last file written wins; the other session stays valid on the service until it idles out.
* **Worst case**: a reader of the file could use the API as the integration user for up to 30
  minutes after the last use, which is less than the password in every run's environment gives.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# The file's last-use time is rewritten at most this often: it decides only whether a session is
# too idle to take (minutes), and a write per request would double the files written per request.
TOUCH_EVERY_SECONDS = 60.0


@dataclass
class StoredSession:
    session_id: str
    last_used: float  # wall clock (time.time()): the processes sharing it share no monotonic clock

    def __repr__(self) -> str:  # never show the id
        return f"StoredSession(last_used={self.last_used!r})"


def session_path(pacer_path: Path) -> Path:
    """The session file beside a tenant's pacer file (`peoplevox-<client>.pacer.json` →
    `peoplevox-<client>.session.json`)."""
    stem = pacer_path.name.removesuffix(".pacer.json")
    return pacer_path.with_name(f"{stem}.session.json")


class SessionFile:
    def __init__(self, path: Path, endpoint: str, username: str) -> None:
        self.path = path
        self._owner = {"endpoint": endpoint, "username": username}
        self._touched = 0.0

    def __repr__(self) -> str:
        return f"SessionFile({str(self.path)!r})"

    def load(
        self, max_idle: float, avoid: set[str] | frozenset[str] = frozenset(), now: float | None = None
    ) -> StoredSession | None:
        """The stored session if it belongs to this endpoint and user, was used less than
        `max_idle` seconds ago and is not in `avoid` (sessions the service has just refused)."""
        now = time.time() if now is None else now
        try:
            with open(self.path, encoding="utf-8") as handle:
                info = os.fstat(handle.fileno())
                if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
                    log.warning("peoplevox: %s is readable or writable by others; not using it", self.path)
                    return None
                raw = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning(
                "peoplevox: session file %s unreadable (%s); authenticating", self.path, type(exc).__name__
            )
            return None
        if not isinstance(raw, dict) or any(raw.get(k) != v for k, v in self._owner.items()):
            return None
        session_id, last_used = raw.get("session_id"), raw.get("last_used")
        if not isinstance(session_id, str) or not session_id or not isinstance(last_used, int | float):
            return None
        if session_id in avoid or not 0 <= now - last_used < max_idle:
            return None
        self._touched = float(last_used)
        return StoredSession(session_id, float(last_used))

    def save(self, session: StoredSession) -> None:
        """Write `session` (mode 0600, atomically). A failure to write costs an Authenticate in
        the next run, never this one: it is logged and swallowed."""
        payload = json.dumps(
            {**self._owner, "session_id": session.session_id, "last_used": session.last_used}
        )
        # One temporary per process and thread: two writers never share one half-written.
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # A new file, never an existing one: its name is predictable, and a symbolic link
            # planted there would otherwise have the session id written wherever it points. A
            # leftover of a process that died mid-write (same pid and thread) is removed first.
            temporary.unlink(missing_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            descriptor = os.open(temporary, flags, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), 0o600)  # whatever the umask
                handle.write(payload)
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("peoplevox: cannot write session file %s (%s)", self.path, type(exc).__name__)
            temporary.unlink(missing_ok=True)
            return
        self._touched = session.last_used

    def touch(self, session: StoredSession) -> None:
        """Record a use, at most every `TOUCH_EVERY_SECONDS`, so other processes know it is alive."""
        if session.last_used - self._touched >= TOUCH_EVERY_SECONDS:
            self.save(session)
