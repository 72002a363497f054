"""The stock push's read of open order lines (`stock_orders.open_lines`, in every push's inputs) on a
copy of a real ledger, with this tree's code and with a baseline tree's, in the same run.

    .venv/bin/python benchmarks/open_lines_time.py LEDGER --baseline-tree /work/main [--repeat 7]

LEDGER is copied once per tree (never opened in place: a kept rehearsal's ledger is fine); each copy
is migrated by its tree's code first (not timed), then `open_lines` runs `--repeat` times, each in
its own transaction as a push's inputs read does. Prints the median seconds per tree, the ratio
(this tree ÷ baseline), the ledger's size (open lines, `pvx_status` events) and whether both trees
returned the same lines. Last line `JSON {…}`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]


def _child(path: Path, repeat: int) -> dict[str, Any]:
    """Runs in a subprocess whose `sync_pipeline` is the tree under test."""
    import sync_pipeline
    from sync_pipeline.lib.ledger import Ledger, events, stock_orders

    ledger = Ledger(path)
    ledger.migrate()
    with ledger.transaction() as con:
        status_events = events.count(con, "pvx_status")
    times, lines = [], []
    for _ in range(repeat):
        with ledger.transaction() as con:
            started = time.perf_counter()
            lines = stock_orders.open_lines(con)
            times.append(time.perf_counter() - started)
    digest = hashlib.sha256(repr(sorted(map(repr, lines))).encode()).hexdigest()
    return {
        "tree": str(Path(sync_pipeline.__file__).resolve().parents[1]),
        "median_seconds": statistics.median(times),
        "min_seconds": min(times),
        "open_lines": len(lines),
        "pvx_status_events": status_events,
        "digest": digest,
    }


def _run(tree: Path, ledger: Path, workdir: Path, repeat: int) -> dict[str, Any]:
    copy = workdir / f"{tree.name}-ledger.duckdb"
    shutil.copyfile(ledger, copy)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(copy), "--repeat", str(repeat)],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(str(result["tree"])) != tree.resolve():
        raise SystemExit(f"the child imported {result['tree']}, not {tree}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledger", type=Path)
    parser.add_argument("--baseline-tree", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.ledger, args.repeat)))
        return
    if args.baseline_tree is None:
        parser.error("--baseline-tree is required")
    with tempfile.TemporaryDirectory(prefix="open-lines-") as tmp:
        base = _run(args.baseline_tree, args.ledger, Path(tmp), args.repeat)
        this = _run(HERE, args.ledger, Path(tmp), args.repeat)
    ratio = float(this["median_seconds"]) / float(base["median_seconds"])
    load = os.getloadavg()[0]
    print(
        f"ledger {args.ledger}: {this['open_lines']} open lines, {this['pvx_status_events']} pvx_status events"
    )
    for name, found in (("baseline", base), ("this    ", this)):
        print(f"{name} {found['tree']}: median {found['median_seconds'] * 1000:.1f} ms, "
              f"min {found['min_seconds'] * 1000:.1f} ms")  # fmt: skip
    print(f"this ÷ baseline: {ratio:.3f}; same lines: {this['digest'] == base['digest']}; load {load:.1f}")
    summary = {
        "open_lines": this["open_lines"],
        "pvx_status_events": this["pvx_status_events"],
        "baseline_ms": round(float(base["median_seconds"]) * 1000, 2),
        "this_ms": round(float(this["median_seconds"]) * 1000, 2),
        "baseline_min_ms": round(float(base["min_seconds"]) * 1000, 2),
        "this_min_ms": round(float(this["min_seconds"]) * 1000, 2),
        "ratio": round(ratio, 3),
        "same_lines": this["digest"] == base["digest"],
        "load_1min": round(load, 1),
    }
    print("JSON " + json.dumps(summary))


if __name__ == "__main__":
    main()
