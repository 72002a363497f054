"""Which process runs a run: the tag a warm run worker writes on its run, and the checks made on it.

A worker is named by host, pid and the pid's start time (clock ticks since boot, `/proc/PID/stat`
field 22): pids are reused, and a pid alone could name some later process. Only a process on the
same host can be checked or signalled; elsewhere the answer is "cannot tell" (None), and callers
give a run the benefit of the doubt rather than fail a healthy one.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

WORKER_TAG = "sync/run_worker"
# The run the worker tag was written for: Dagster copies a run's tags to its retry (and to a
# re-execution from the UI), so a retry launched through the code server carries its parent's
# worker tag, naming a dead process; the launcher trusts the tag only when this names the run.
WORKER_RUN_TAG = "sync/run_worker_run"
# Process names (`/proc/PID/comm`, `ps -o comm`; 15 characters at most): workers and their zygote
# share a command line, and the rehearsal's CPU meter tells them apart by these.
WORKER_NAME = "sync-run-worker"
ZYGOTE_NAME = "sync-zygote"
PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    state: str  # "Z": a zombie, exited and not yet reaped
    pgid: int
    ppid: int
    cpu_ticks: int  # user + system, in clock ticks
    started_ticks: int  # since boot
    name: str = ""  # the command name (`/proc/PID/comm`): a warm run worker names itself


def parse_stat(text: str) -> ProcStat:
    """The fields we use of a `/proc/PID/stat` line (the command name, field 2, may hold spaces)."""
    head, _, tail = text.rpartition(")")
    fields = tail.split()
    # After the name: state(3) ppid(4) pgrp(5) … utime(14) stime(15) … starttime(22).
    return ProcStat(
        state=fields[0],
        pgid=int(fields[2]),
        ppid=int(fields[1]),
        cpu_ticks=int(fields[11]) + int(fields[12]),
        started_ticks=int(fields[19]),
        name=head.partition("(")[2],
    )


@dataclass(frozen=True)
class WorkerId:
    host: str
    pid: int
    started_ticks: int

    def tag(self) -> str:
        return f"{self.host}/{self.pid}/{self.started_ticks}"

    @classmethod
    def parse(cls, text: str) -> WorkerId | None:
        """The worker a tag names, or None for a tag this module did not write."""
        parts = text.rsplit("/", 2)
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            return None
        host = parts[0]
        return cls(host, int(parts[1]), int(parts[2])) if host else None


def this_host() -> str:
    return socket.gethostname()


def started_ticks(pid: int, proc: Path = PROC) -> int | None:
    """When `pid` started (ticks since boot), or None when there is no such process or it is a
    zombie (exited, not yet reaped: as good as gone)."""
    try:
        stat = parse_stat((proc / str(pid) / "stat").read_text())
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None if stat.state in ("Z", "X") else stat.started_ticks


def is_alive(worker: WorkerId, host: str, proc: Path = PROC) -> bool | None:
    """True while the worker's process runs, False once it has gone, None when this cannot tell
    (another host; /proc unreadable for another reason: out of file descriptors, say, which must
    not fail a live run)."""
    if worker.host != host:
        return None
    try:
        return started_ticks(worker.pid, proc) == worker.started_ticks
    except (OSError, ValueError):
        return None
