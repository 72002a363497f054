"""How busy the ledger was over the peak: a fourth shared ceiling beside the CPU and the two APIs.

Every writer of a ledger file, in every process, takes that file's lock for the whole transaction
(`lib/ledger/connection.py`), so the ledger can do one thing at a time. The rehearsal has each
process record its holds (`LOCK_TIMES_ENV`, one line a transaction); this module reads them back
and says what share of the peak the lock was held (the whole peak, and its busiest minute), how
long transactions waited for it, and whose blocks held it longest. Held near all the time, the
ledger binds: more cores would not make the flows faster, fewer or shorter transactions would.

Pure apart from reading the file.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync_pipeline.rehearsal.stack import percentile, rounded

# The busiest stretch is judged in windows of this many seconds.
MINUTE = 60.0
TOP_CALLERS = 8


@dataclass(frozen=True)
class Hold:
    at: float  # wall clock (time.time()) when the lock was taken
    held: float  # seconds
    waited: float  # seconds before it was taken
    pid: int
    ledger: str
    caller: str  # "file.py function": the block's code, line number dropped so a function is one row


def read_holds(path: Path) -> tuple[list[Hold], int]:
    """The holds recorded in `path`, and how many lines could not be read (a line cut short by a
    process killed mid-write: counted, not fatal). A missing file is no holds."""
    if not path.exists():
        return [], 0
    holds, bad = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        try:
            at, held, waited, pid = float(parts[0]), float(parts[1]), float(parts[2]), int(parts[3])
            ledger, caller = parts[4], parts[5]
        except (IndexError, ValueError):
            bad += 1
            continue
        if not all(math.isfinite(x) and x >= 0 for x in (at, held, waited)):
            bad += 1
            continue
        holds.append(Hold(at, held, waited, pid, ledger, re.sub(r":\d+ ", " ", caller, count=1)))
    return holds, bad


def _overlap(hold: Hold, start: float, end: float) -> float:
    return max(0.0, min(hold.at + hold.held, end) - max(hold.at, start))


def busiest_window_share(holds: Iterable[Hold], start: float, end: float, width: float = MINUTE) -> float:
    """The largest share of any whole `width`-second window (stepped by `width` from `start`) during
    which the lock was held; over the whole span when it is shorter than one window. A tail shorter
    than a window counts in the peak's share, not here: a few seconds' window is not a minute."""
    span = end - start
    if span <= 0:
        return 0.0
    width = min(width, span)
    windows = max(1, int(span // width))
    held = [0.0] * windows
    for hold in holds:
        first = max(0, int((hold.at - start) // width))
        last = min(windows - 1, int((hold.at + hold.held - start) // width))
        for index in range(first, last + 1):
            w_start = start + index * width
            held[index] += _overlap(hold, w_start, w_start + width)
    return max(held) / width


def summary(holds: list[Hold], start: float, end: float, unreadable: int = 0) -> dict[str, Any]:
    """Per ledger file (each has its own lock), over [start, end] (wall clock): transactions, the
    share of the span the lock was held and of its busiest minute, waits, and the callers that held
    it longest. `held_share` at the top is the busiest file's."""
    span = max(end - start, 0.0)
    by_file: dict[str, list[Hold]] = defaultdict(list)
    for hold in holds:
        if hold.at <= end and hold.at + hold.held >= start:
            by_file[hold.ledger].append(hold)
    files = {name: _file_summary(found, start, end, span) for name, found in sorted(by_file.items())}
    busiest = max(files.values(), key=lambda f: f["held_share"] or 0.0, default=None)  # None: no span
    return {
        "held_share": busiest["held_share"] if busiest else None,
        "busiest_minute_held_share": busiest["busiest_minute_held_share"] if busiest else None,
        "files": files,
        "unreadable_lines": unreadable,
    }


def _file_summary(holds: list[Hold], start: float, end: float, span: float) -> dict[str, Any]:
    held = sum(_overlap(h, start, end) for h in holds)
    waits = [h.waited for h in holds]
    callers: dict[str, list[Hold]] = defaultdict(list)
    for hold in holds:
        callers[hold.caller].append(hold)
    held_by = {name: sum(h.held for h in found) for name, found in callers.items()}
    ranked = sorted(callers.items(), key=lambda kv: -held_by[kv[0]])[:TOP_CALLERS]
    total_held = sum(h.held for h in holds) or 1.0
    return {
        "transactions": len(holds),
        "processes": len({h.pid for h in holds}),
        "held_s": round(held, 1),
        "held_share": round(held / span, 3) if span else None,
        "busiest_minute_held_share": round(busiest_window_share(holds, start, end), 3),
        "wait_s": {
            "p50": rounded(percentile(waits, 50), 3),
            "p95": rounded(percentile(waits, 95), 3),
            "max": rounded(max(waits, default=None), 3),
            "total": round(sum(waits), 1),
        },
        "longest_hold_s": rounded(max((h.held for h in holds), default=None), 3),
        "by_caller": [
            {
                "caller": name,
                "transactions": len(found),
                "held_s": round(held_by[name], 1),
                "share_of_held": round(held_by[name] / total_held, 3),
                "mean_held_ms": round(1000 * held_by[name] / len(found), 1),
                "wait_p95_s": rounded(percentile([h.waited for h in found], 95), 3),
            }
            for name, found in ranked
        ],
    }


def markdown_lines(ledger: dict[str, Any]) -> list[str]:
    """The ledger's lock over the peak, for the report: one line a file and a table of its holders."""
    if not ledger or not ledger.get("files"):
        return ["Ledger lock: not recorded."]
    lines: list[str] = []
    for name, f in ledger["files"].items():
        w = f["wait_s"]
        lines += [
            f"Ledger lock ({name}): held {f['held_share']} of the peak (busiest minute"
            f" {f['busiest_minute_held_share']}) by {f['transactions']:,} transactions from {f['processes']}"
            f" processes; waits for it p50 {w['p50']} s, p95 {w['p95']} s, max {w['max']} s ({w['total']:,} s in all);"
            f" longest hold {f['longest_hold_s']} s.",
            "",
            "| held the ledger longest | transactions | held | share of held | mean hold | p95 wait |",
            "|---|---|---|---|---|---|",
            *(
                f"| {c['caller']} | {c['transactions']:,} | {c['held_s']:,} s | {c['share_of_held']:.1%} |"
                f" {c['mean_held_ms']} ms | {c['wait_p95_s']} s |"
                for c in f["by_caller"]
            ),
            "",
        ]
    if ledger.get("unreadable_lines"):
        lines.append(f"({ledger['unreadable_lines']} lock-time lines could not be read.)")
    return lines
