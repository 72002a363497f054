"""`sync-pipeline runbook [--write]`: check (or rewrite) the generated part of docs/runbook.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sync_pipeline.lib.domain import runbook
from sync_pipeline.settings import REPO_ROOT

RUNBOOK = REPO_ROOT / "docs" / "runbook.md"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sync-pipeline runbook")
    parser.add_argument("--write", action="store_true", help="rewrite the generated block from the catalogue")
    parser.add_argument("--path", type=Path, default=RUNBOOK, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write:
        changed = runbook.write(args.path)
        print(f"{args.path}: {'rewritten' if changed else 'already up to date'}")
        return 0
    text = args.path.read_text(encoding="utf-8")
    if runbook.splice(text) != text:
        print(
            f"{args.path} disagrees with the exception catalogue: run `sync-pipeline runbook --write`",
            file=sys.stderr,
        )
        return 1
    print(f"{args.path} matches the exception catalogue")
    return 0
