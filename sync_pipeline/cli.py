"""`sync-pipeline …`: the product's command line (demo, config check, sandboxes, receiver)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence


def _delegate(module: str) -> Callable[[list[str]], int]:
    """Subcommands that own their arguments live next to the code they run."""

    def run(argv: list[str]) -> int:
        return int(importlib.import_module(module).main(argv) or 0)

    return run


COMMANDS: dict[str, tuple[str, Callable[[list[str]], int]]] = {
    "demo": ("run the whole product on embedded defaults", _delegate("sync_pipeline.demo")),
    "config": ("check or print the effective configuration", _delegate("sync_pipeline.config_cli")),
    "receiver": ("accept Shopify webhooks and Peoplevox callbacks", _delegate("sync_pipeline.receiver.cli")),
    "subscribe": (
        "register webhooks and Peoplevox callbacks, record their ids",
        _delegate("sync_pipeline.subscribe"),
    ),
    "exceptions": (
        "open exceptions ranked by impact (--owner, --json); `exceptions resolve ID --note …`",
        _delegate("sync_pipeline.ops_cli.exceptions"),
    ),
    "trace": ("an order's whole timeline from the ledger (--json)", _delegate("sync_pipeline.ops_cli.trace")),
    "resend": (
        "put a refused or too-old order back in the release queue",
        _delegate("sync_pipeline.ops_cli.resend"),
    ),
    "audit": (
        "read-only audit of both systems and the ledger; report under data/exports/audit/",
        _delegate("sync_pipeline.ops_cli.audit"),
    ),
    "runbook": (
        "check docs/runbook.md against the exception catalogue (--write to regenerate it)",
        _delegate("sync_pipeline.ops_cli.runbook"),
    ),
    "stock": (
        "list or accept stock snapshots the circuit breaker held back",
        _delegate("sync_pipeline.stock_cli"),
    ),
    "rehearse": (
        "a peak with faults through every flow; lost/duplicated effects, latency, budgets (--json)",
        _delegate("sync_pipeline.rehearsal.cli"),
    ),
    "traffic": (
        "seed the sandboxes and place a realistic order mix",
        _delegate("sync_pipeline.sandbox.traffic"),
    ),
}
SANDBOXES: dict[str, str] = {
    "shopify": "sync_pipeline.sandbox.shopify.cli",
    "peoplevox": "sync_pipeline.sandbox.peoplevox.cli",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    usage = "sync-pipeline {" + ",".join([*COMMANDS, "sandbox"]) + "} …"
    if not args or args[0] in {"-h", "--help"}:
        parser = argparse.ArgumentParser(prog="sync-pipeline", usage=usage)
        for name, (help_text, _) in COMMANDS.items():
            parser.add_argument_group(name, help_text)
        parser.add_argument_group("sandbox {" + ",".join(SANDBOXES) + "}", "run one sandbox on its own")
        parser.print_help()
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "sandbox":
        if not rest or rest[0] not in SANDBOXES:
            print(f"usage: sync-pipeline sandbox {{{','.join(SANDBOXES)}}} [--port N]", file=sys.stderr)
            return 2
        return _delegate(SANDBOXES[rest[0]])(rest[1:])
    if command not in COMMANDS:
        print(f"unknown command {command!r}; usage: {usage}", file=sys.stderr)
        return 2
    return COMMANDS[command][1](rest)


if __name__ == "__main__":
    sys.exit(main())
