"""`sync-pipeline exceptions [--owner cx] [--json]` and `sync-pipeline exceptions resolve ID --by NAME --note TEXT`."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from sync_pipeline.lib.domain.config import ConfigError, load_business_rules
from sync_pipeline.lib.domain.exception_catalogue import CATALOGUE, Clears, Owner
from sync_pipeline.lib.flows.ops.run import refresh
from sync_pipeline.lib.ledger import ops as ledger_ops
from sync_pipeline.ops_cli.common import cut, ledger, print_json, settings


def _list(args: argparse.Namespace) -> int:
    sync = settings()
    try:
        config = load_business_rules(sync.rules_dir).ops
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    now = datetime.now(UTC).replace(tzinfo=None)
    # Read only: closing what cleared is ops/exceptions' job, in its own run.
    ranked = refresh(ledger(sync), config, now, actor="cli", recheck=False).ranked
    if args.owner:
        ranked = [r for r in ranked if r.owner == args.owner]
    shown = ranked[: args.limit]
    if args.json:
        print_json([r.as_json() for r in shown])
        return 0
    if not ranked:
        print("no open exceptions" + (f" for {args.owner}" if args.owner else ""))
        return 0
    print(
        f"{'#':>3} {'pri':3} {'impact':>6} {'owner':13} {'kind':28} {'order':10} {'age h':>6} {'due h':>6}  id / what"
    )
    for r in shown:
        due = "" if r.hours_to_deadline is None else f"{r.hours_to_deadline:.1f}"
        print(
            f"{r.rank:>3} {r.priority.value:3} {r.impact:>6.1f} {r.owner:13} {r.kind:28} "
            f"{cut(r.order_name or r.subject, 10):10} {r.age_hours:>6.1f} {due:>6}  #{r.exception_id} {cut(r.message, 70)}"
        )
    more = len(ranked) - len(shown)
    print(f"\n{len(ranked)} open" + (f" ({more} more: --limit)" if more > 0 else "")
          + "; resolve one a person has handled: sync-pipeline exceptions resolve ID --note '…'")  # fmt: skip
    return 0


def _resolve(args: argparse.Namespace) -> int:
    sync = settings()
    book = ledger(sync)
    with book.transaction() as con:
        found = ledger_ops.get(con, args.id)
        if found is None:
            print(f"no exception #{args.id}", file=sys.stderr)
            return 1
        if found["status"] != "open":
            print(
                f"exception #{args.id} is already {found['status']}: {found['resolution']}", file=sys.stderr
            )
            return 1
        entry = CATALOGUE.get(str(found["kind"]))
        closed = ledger_ops.close(con, [(args.id, f"by {args.by}: {args.note}")], actor=f"person:{args.by}")
    print(f"exception #{args.id} ({found['kind']}) resolved by {args.by}" if closed else "not resolved")
    if entry is not None and entry.clears is Clears.AUTOMATICALLY:
        print(
            f"note: {found['kind']} also clears by itself; if the problem is still there it will be opened again"
        )
    return 0 if closed else 1


def main(argv: list[str]) -> int:
    if argv[:1] == ["resolve"]:
        parser = argparse.ArgumentParser(prog="sync-pipeline exceptions resolve")
        parser.add_argument("id", type=int, help="the exception's id (# column)")
        parser.add_argument("--note", required=True, help="what was done (kept with the exception)")
        parser.add_argument("--by", default=getpass.getuser(), help="who resolved it (default: your login)")
        return _resolve(parser.parse_args(argv[1:]))
    parser = argparse.ArgumentParser(
        prog="sync-pipeline exceptions", description="open exceptions, ranked by impact (subcommand: resolve)"
    )
    parser.add_argument("--owner", choices=[o.value for o in Owner])
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="machine-readable")
    return _list(parser.parse_args(argv))
