"""Where each package's time went in a kept `despatch_flow.py --keep` run, read after the fact.

Joins the floor's despatch instants (`floor.csv`, written by `despatch_flow.py`), the ledger (the
`despatched` event each read appended, the write-ahead row's claim and answer times, the run that
sent it) and the Dagster instance (each despatches run's creation, start, read step and fulfil step,
and when that step began waiting for `shopify_fulfil`), and splits despatch -> fulfilled into

  to launch      despatch -> creation of the run whose read recorded it (0 if that run was already
                 made: then its start-up hid this wait)
  start-up       -> that run's read step began (queue, process start, the Peoplevox pool)
  read step      -> the read recorded the package (the report read, the ledger write)
  to fulfil step -> the fulfil step that sent it began (0 if one was already working: it drains what
                 any read adds); mostly the pool held by the run before
  in the step    -> the wave that claimed it (the step's backlog ahead of it)
  send           -> the answer written (the call, and the wait for the next ledger write)

then, run by run, the read and fulfil steps and the gaps between one fulfil step's end and the
next one's start (the pool idle while packages were read and waiting), and the time packages sat
despatched-but-unread. Read-only; a map, not a goal:

    .venv/bin/python benchmarks/despatch_timeline.py /tmp/despatch-flow-bench-XXXX
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import re
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEventType

from sync_pipeline.lib.ledger import Ledger

BLOCKED = "blocked by limit for pool "
PACKAGE_IN_REASON = re.compile(r"^Peoplevox despatched (\S+):")
# A step attempt ends in success, failure, or a failure it will be retried after.
ENDS = (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_UP_FOR_RETRY)
SEGMENTS = ("to launch", "start-up", "read step", "to fulfil step", "in the step", "send")


@dataclass
class DespatchRun:
    run_id: str
    created: float
    start: float | None = None
    end: float | None = None
    read: tuple[float, float] | None = None
    fulfil_waiting: float | None = None  # when the fulfil step began waiting for its pool
    fulfil: tuple[float, float] | None = None  # first attempt's start to the last one's end
    attempts: list[tuple[float, float]] = field(default_factory=list)  # each attempt (retries too)
    read_count: int = 0
    sent_count: int = 0


@dataclass
class Package:
    number: str
    despatched: float
    read_at: float | None = None
    read_by: str | None = None
    sent_by: str | None = None
    claimed: float | None = None
    created: float | None = None
    segments: dict[str, float] = field(default_factory=dict)


def epoch(value: datetime) -> float:
    return value.replace(tzinfo=UTC).timestamp() if value.tzinfo is None else value.timestamp()


def load_runs(dagster_home: Path) -> dict[str, DespatchRun]:
    """The despatches runs by their first 8 characters (the ledger's `run:xxxxxxxx` actors)."""
    os.environ["DAGSTER_HOME"] = str(dagster_home.resolve())
    runs: dict[str, DespatchRun] = {}
    with dg.DagsterInstance.get() as instance:
        for record in instance.get_run_records():
            run = record.dagster_run
            if run.job_name != "despatches_job":
                continue
            item = DespatchRun(run.run_id, record.create_timestamp.timestamp())
            started: dict[str, float] = {}
            for entry in instance.all_logs(run.run_id):
                event, t, step = entry.dagster_event, entry.timestamp, entry.step_key or ""
                kind = event.event_type if event else None
                if kind == DagsterEventType.PIPELINE_START and item.start is None:
                    item.start = t
                elif kind in (
                    DagsterEventType.PIPELINE_SUCCESS,
                    DagsterEventType.PIPELINE_FAILURE,
                    DagsterEventType.PIPELINE_CANCELED,
                ):
                    item.end = t
                elif kind == DagsterEventType.ENGINE_EVENT and BLOCKED in (entry.user_message or ""):
                    if "fulfilments" in step and item.fulfil_waiting is None:
                        item.fulfil_waiting = t
                elif kind in (DagsterEventType.STEP_START, DagsterEventType.STEP_RESTARTED):
                    started[step] = t
                elif kind in ENDS and step in started:
                    span = (started.pop(step), t)
                    if "fulfilments" in step:
                        item.attempts.append(span)
                        item.fulfil = (item.fulfil[0] if item.fulfil else span[0], t)
                    elif "despatches" in step:
                        item.read = (item.read[0] if item.read else span[0], t)
            runs[f"run:{run.run_id[:8]}"] = item
    return runs


def load_packages(root: Path) -> dict[str, Package]:
    with (root / "floor.csv").open(encoding="utf-8") as f:
        packages = {
            r["package_number"]: Package(
                r["package_number"], epoch(datetime.fromisoformat(r["despatched_at"]))
            )
            for r in csv.DictReader(f)
        }
    ledger = Ledger(root / "data" / "ledger.duckdb", busy_timeout=60)
    with ledger.transaction() as con:
        events = con.execute(
            "SELECT reason, occurred_at, actor FROM order_events WHERE kind = 'despatched'"
        ).fetchall()
        sends = con.execute(
            "SELECT package_number, run_id, last_attempt_at, created_at FROM shopify_fulfilments "
            "WHERE state = 'created'"
        ).fetchall()
    for reason, at, actor in events:
        match = PACKAGE_IN_REASON.match(reason or "")
        p = packages.get(match.group(1)) if match else None
        if p is not None and p.read_at is None:
            p.read_at, p.read_by = epoch(at), actor
    for number, run_id, claimed, created in sends:
        p = packages.get(number)
        if p is not None and created is not None:
            p.sent_by, p.claimed, p.created = run_id, epoch(claimed), epoch(created)
    return packages


def split(p: Package, runs: dict[str, DespatchRun]) -> bool:
    reader, sender = runs.get(p.read_by or ""), runs.get(p.sent_by or "")
    if None in (p.read_at, p.claimed, p.created) or reader is None or sender is None:
        return False
    if reader.read is None or sender.fulfil is None:
        return False
    assert p.read_at is not None and p.claimed is not None and p.created is not None
    launched = max(p.despatched, reader.created)
    read_began = max(launched, reader.read[0])
    read_at = max(read_began, p.read_at)
    step_began = max(read_at, sender.fulfil[0])
    claimed = max(step_began, p.claimed)
    created = max(claimed, p.created)
    points = (p.despatched, launched, read_began, read_at, step_began, claimed, created)
    p.segments = {name: b - a for name, a, b in zip(SEGMENTS, points, points[1:], strict=False)}
    return True


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("work_dir", type=Path, help="the directory `despatch_flow.py --keep` kept")
    args = parser.parse_args()
    runs = load_runs(args.work_dir / "dagster_home")
    packages = load_packages(args.work_dir)
    split_ok = [p for p in packages.values() if split(p, runs)]
    for p in packages.values():
        if p.read_by in runs:
            runs[p.read_by].read_count += 1
        if p.sent_by in runs:
            runs[p.sent_by].sent_count += 1
    total = [sum(p.segments.values()) for p in split_ok]
    print(f"{len(packages)} packages despatched, {len(split_ok)} traced through a read and a fulfil step")
    if not split_ok:
        return
    tail_at = pct(total, 90)
    tail = [p for p in split_ok if sum(p.segments.values()) >= tail_at]
    print(
        f"despatch -> fulfilled: p50 {pct(total, 50):.1f} s, p95 {pct(total, 95):.1f} s, max {max(total):.1f} s"
    )
    print(
        f"\n{'segment':16s} {'p50':>7s} {'p95':>7s} {'mean':>7s} {'share':>6s}   slowest 10 % (n={len(tail)}): mean"
    )
    mean_total = statistics.fmean(total)
    for name in SEGMENTS:
        values = [p.segments[name] for p in split_ok]
        print(
            f"{name:16s} {pct(values, 50):6.1f}s {pct(values, 95):6.1f}s {statistics.fmean(values):6.1f}s "
            f"{statistics.fmean(values) / mean_total:6.1%}   {statistics.fmean(p.segments[name] for p in tail):6.1f}s"
        )
    same = sum(1 for p in split_ok if p.read_by == p.sent_by)
    print(
        f"\nsent by the run that read it: {same / len(split_ok):.1%}; by an earlier run's step (drained): "
        f"{sum(1 for p in split_ok if runs[p.sent_by].created < runs[p.read_by].created) / len(split_ok):.1%}"
    )

    t0 = min(p.despatched for p in packages.values())
    ordered = sorted(
        (r for r in runs.values() if r.end is None or r.end >= t0 - 120), key=lambda r: r.created
    )
    print(
        "\nruns (seconds from the first despatch): created  start  read [from-to]  fulfil waits  fulfil [from-to]  end | read / sent"
    )

    def at(t: float | None) -> str:
        return "     -" if t is None else f"{t - t0:6.1f}"

    for r in ordered:
        read = f"{at(r.read[0])}-{at(r.read[1]).strip()}" if r.read else "      -"
        fulfil = f"{at(r.fulfil[0])}-{at(r.fulfil[1]).strip()}" if r.fulfil else "      -"
        print(
            f"  {r.run_id[:8]} {at(r.created)} {at(r.start)} {read:>14s} {at(r.fulfil_waiting)} {fulfil:>14s} {at(r.end)} | {r.read_count:5d} / {r.sent_count:5d}"
            + (f"  ({len(r.attempts)} attempts)" if len(r.attempts) > 1 else "")
        )

    steps = sorted(a for r in ordered for a in r.attempts)
    last_created = max(p.created for p in split_ok if p.created is not None)
    gaps, idle_with_work = [], 0.0
    for (_, end), (start, _) in itertools.pairwise(steps):
        if end >= last_created:
            break
        if end < t0:
            continue  # before the floor began: nothing to send
        gaps.append(start - end)
        waiting = [
            p for p in split_ok if p.read_at is not None and p.read_at <= start and (p.claimed or 0) >= end
        ]
        if waiting:
            idle_with_work += start - end
    busy = sum(b - a for a, b in steps if a <= last_created)
    window = last_created - t0
    print(
        f"\nfulfil step attempts: {len(steps)}; busy {busy:.0f} s of the {window:.0f} s from the first despatch to the last answer "
        f"({busy / window:.1%}); gaps between steps: {', '.join(f'{g:.1f}' for g in gaps)} s "
        f"(sum {sum(gaps):.0f} s, of it {idle_with_work:.0f} s with read packages waiting)"
    )
    reads = sorted(r.read for r in ordered if r.read)
    intervals = [b[0] - a[0] for a, b in itertools.pairwise(reads) if a[0] >= t0 - 60]
    if intervals:
        print(
            f"reads: {len(reads)}; read step began every {statistics.fmean(intervals):.1f} s on average "
            f"(p95 {pct(intervals, 95):.1f} s); a read step took {statistics.fmean(b - a for a, b in reads):.1f} s"
        )


if __name__ == "__main__":
    main()
