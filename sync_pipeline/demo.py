"""`sync-pipeline demo`: the whole product on embedded defaults, on this machine only.

Starts the Shopify and Peoplevox sandboxes on 127.0.0.1, then `dg dev` (Dagster UI on
http://127.0.0.1:3000) with SQLite Dagster storage under `data/dagster_home` and the DuckDB
ledger under `data/`. Every setting the product reads from the environment is given a
sandbox default here unless you already set it, so the same command can point at real
endpoints. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sync_pipeline.settings import REPO_ROOT

SANDBOX_SHOPIFY_TOKEN = "shpat_sandbox"  # sandbox-only credentials, not secrets of any real system
SANDBOX_WEBHOOK_SECRET = "sandbox-webhook-secret"
SANDBOX_PEOPLEVOX_PASSWORD = "sandbox-password"


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


def demo_environment(args: argparse.Namespace, data_dir: Path) -> dict[str, str]:
    defaults = {
        "SYNC_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
        "SHOPIFY_SHOP_URL": f"http://127.0.0.1:{args.shopify_port}",
        "SHOPIFY_ACCESS_TOKEN": SANDBOX_SHOPIFY_TOKEN,
        "SHOPIFY_WEBHOOK_SECRET": SANDBOX_WEBHOOK_SECRET,
        "SHOPIFY_API_VERSION": "2026-10",
        "PEOPLEVOX_BASE_URL": f"http://127.0.0.1:{args.peoplevox_port}",
        "PEOPLEVOX_CLIENT_ID": "sandbox",
        "PEOPLEVOX_USERNAME": "integration",
        "PEOPLEVOX_PASSWORD": SANDBOX_PEOPLEVOX_PASSWORD,
    }
    env = dict(os.environ)
    for key, value in defaults.items():
        env.setdefault(key, value)
    return env


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _start(name: str, command: list[str], env: dict[str, str]) -> Child:
    print(f"[demo] starting {name}: {' '.join(command)}", flush=True)
    # Own process group, so Ctrl-C reaches us once and we stop children in order.
    return Child(name, subprocess.Popen(command, env=env, cwd=REPO_ROOT, start_new_session=True))


def _stop(children: list[Child]) -> None:
    for child in reversed(children):
        if child.process.poll() is None:
            os.killpg(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in reversed(children):
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.process.pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sync-pipeline demo", description=__doc__)
    parser.add_argument("--ui-port", type=int, default=3000)
    parser.add_argument("--shopify-port", type=int, default=8701)
    parser.add_argument("--peoplevox-port", type=int, default=8702)
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / "data")
    args = parser.parse_args(argv)

    data_dir = args.data_dir.resolve()
    env = demo_environment(args, data_dir)
    dagster_home = Path(env["DAGSTER_HOME"])
    dagster_home.mkdir(parents=True, exist_ok=True)
    # The repo's dagster.yaml is the instance config; DAGSTER_HOME holds it plus SQLite storage.
    shutil.copy(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")

    bin_dir = Path(sys.executable).parent
    cli = str(bin_dir / "sync-pipeline")
    children: list[Child] = []
    try:
        for system, port in (("shopify", args.shopify_port), ("peoplevox", args.peoplevox_port)):
            if _module_exists(f"sync_pipeline.sandbox.{system}.cli"):
                children.append(_start(f"{system} sandbox", [cli, "sandbox", system, "--port", str(port)], env))
        children.append(
            _start(
                "Dagster (dg dev)",
                [str(bin_dir / "dg"), "dev", "--host", "127.0.0.1", "--port", str(args.ui_port)],
                env,
            )
        )
        print(f"[demo] Dagster UI: http://127.0.0.1:{args.ui_port}  (Ctrl-C stops everything)", flush=True)
        while True:
            for child in children:
                code = child.process.poll()
                if code is not None:
                    print(f"[demo] {child.name} exited with code {code}; stopping the demo", flush=True)
                    return code or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\n[demo] stopping…", flush=True)
        return 0
    finally:
        _stop(children)
