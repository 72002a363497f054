"""What a sensor's read of the inbox costs as a sale fills it, flat against bucketed.

Sensors read the events after their cursor every second or so, and the inbox keeps 3 days of
events. Until session 19 every event sat in one directory per source, so each read listed and
sorted all of them; now events sit in 100-s buckets (`lib/inbox.py`) and a read lists the bucket
names and the buckets from the cursor's on. This writes `--events` events through `Inbox.write`
into a bucketed inbox (arrivals spread evenly over `--hours`) and the same names into one flat
directory (as the earlier version kept them, which `Inbox` still reads), then times, in the same
run and process, the read a sensor makes (the events after a cursor 50 events from the end) and a
prune with nothing yet past retention (what every ingest run does), each `--rounds` times, and
prints CPU seconds per read and the ratio bucketed ÷ flat:

    .venv/bin/python benchmarks/inbox_scale.py                     # 200,000 events over 24 h
    .venv/bin/python benchmarks/inbox_scale.py --events 20000      # smoke
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

from sync_pipeline.lib.inbox import Inbox

RETENTION_SECONDS = 3 * 24 * 3600


def _cpu(call: object, rounds: int) -> float:
    """Median CPU seconds of `call()` over `rounds` calls."""
    spent = []
    for _ in range(rounds):
        began = time.process_time()
        call()  # type: ignore[operator]
        spent.append(time.process_time() - began)
    return statistics.median(spent)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--hours", type=float, default=24.0, help="the arrivals' spread")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="inbox-scale-"))
    try:
        bucketed, flat = Inbox(root / "bucketed"), Inbox(root / "flat")
        start = time.time_ns() - int(args.hours * 3600e9)
        step = int(args.hours * 3600e9 / args.events)
        clock = iter(range(start, start + step * args.events + 1, step))
        began = time.monotonic()
        with mock.patch("sync_pipeline.lib.inbox.time.time_ns", lambda: next(clock)):
            names = [bucketed.write("shopify", {"id": n}).name for n in range(args.events)]  # type: ignore[union-attr]
        written = time.monotonic() - began
        (root / "flat" / "shopify").mkdir(parents=True)
        for name in names:  # the same events as the flat inbox kept them
            (root / "flat" / "shopify" / name).write_bytes(b"{}")
        cursor = names[-51]
        assert len(bucketed.since("shopify", after=cursor)) == len(flat.since("shopify", after=cursor)) == 50
        figures = {
            "events": args.events,
            "hours": args.hours,
            "buckets": sum(
                1 for p in (root / "bucketed" / "shopify").iterdir() if p.is_dir() and p.name.isdigit()
            ),
            "write_ms_per_event": round(written / args.events * 1000, 3),
        }
        for label, inbox in (("flat", flat), ("bucketed", bucketed)):
            figures[f"{label}_read_cpu_s"] = round(
                _cpu(lambda i=inbox: i.since("shopify", after=cursor, limit=100_000), args.rounds), 5
            )  # type: ignore[misc]
            figures[f"{label}_prune_cpu_s"] = round(
                _cpu(lambda i=inbox: i.prune("shopify", RETENTION_SECONDS), args.rounds), 5
            )  # type: ignore[misc]
        figures["read_ratio_bucketed_to_flat"] = round(
            figures["bucketed_read_cpu_s"] / figures["flat_read_cpu_s"], 4
        )
        figures["prune_ratio_bucketed_to_flat"] = round(
            figures["bucketed_prune_cpu_s"] / figures["flat_prune_cpu_s"], 4
        )
        print(f"{args.events:,} events over {args.hours:g} h in {figures['buckets']:,} buckets")
        print("| | flat | bucketed | bucketed ÷ flat |")
        print("|---|---|---|---|")
        for what in ("read", "prune"):
            print(f"| {what} (CPU s, median of {args.rounds}) | {figures[f'flat_{what}_cpu_s']:.4f} |"
                  f" {figures[f'bucketed_{what}_cpu_s']:.4f} | {figures[f'{what}_ratio_bucketed_to_flat']:.4f} |")  # fmt: skip
        print("JSON " + json.dumps(figures, sort_keys=True))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
