"""`sync-pipeline demo`: the whole product on embedded defaults, on this machine only.

Starts the Shopify and Peoplevox sandboxes (the warehouse runs a day in about twelve minutes),
the receiver, subscribes the receiver to both, seeds a clothing catalogue and places a
realistic order mix (`sync-pipeline traffic`), then runs `dg dev` (Dagster UI on
http://127.0.0.1:3000) with the sensors and schedules on. Dagster's SQLite storage lives in
`data/dagster_home`, the DuckDB ledger in `data/`. The business rules are a copy of
`data/config` in `data/demo_config` with a 30-second hold window, so orders reach the
warehouse within a minute. Every setting the product reads from the environment is given a
sandbox default here unless you already set it. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.tls import tls_context
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl
from sync_pipeline.sandbox.shopify.config import SANDBOX_SHOP_DOMAIN
from sync_pipeline.sandbox.shopify.control import SandboxControl
from sync_pipeline.sandbox.traffic import seed_catalogue
from sync_pipeline.settings import REPO_ROOT

SANDBOX_SHOPIFY_TOKEN = "shpat_sandbox"  # sandbox-only credentials, not secrets of any real system
SANDBOX_WEBHOOK_SECRET = "sandbox-webhook-secret"
SANDBOX_PEOPLEVOX_PASSWORD = "sandbox-password"
DEMO_HOLD_WINDOW_SECONDS = 30
DEMO_STALE_ORDER_MINUTES = 5  # so the stale-orders check means something within a demo
# The real Peoplevox allows 15 requests per 15 s; a demo with 20 orders a minute, callbacks and
# status polls needs more headroom. Sandbox and client are given the same numbers.
DEMO_REQUESTS_PER_WINDOW = 60
DEMO_WINDOW_SECONDS = 15
# Simulated warehouse seconds per real second: a day in twelve minutes.
DEMO_TIME_SCALE = 120


# Jobs launched once before the sensors start (both have only hourly schedules): the catalogue,
# so orders are translated against the whole catalogue from the first release, then one stock
# reconcile (partition: the current hour), so Shopify shows the warehouse's stock from the start
# rather than the figures the catalogue was seeded with.
STARTUP_JOBS: tuple[tuple[str, bool], ...] = (("catalogue_job", False), ("stock_reconcile_job", True))


def startup_jobs(now: datetime) -> list[tuple[str, str | None]]:
    """(job, partition key or None) in the order the demo launches them."""
    hour = now.strftime("%Y-%m-%d-%H:00")
    return [(job, hour if partitioned else None) for job, partitioned in STARTUP_JOBS]


def startup_commands(cli: str, dg: str, now: datetime) -> list[list[str]]:
    """Subscriptions, then a `dg launch` per startup job."""
    commands = [[cli, "subscribe"]]
    for job, partition in startup_jobs(now):
        commands.append([dg, "launch", "--job", job, *(["--partition", partition] if partition else [])])
    return commands


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    may_finish: bool = False  # the traffic generator ends by itself; the rest must not


def demo_environment(args: argparse.Namespace, data_dir: Path) -> dict[str, str]:
    defaults = {
        "SYNC_DATA_DIR": str(data_dir),
        "SYNC_CONFIG_DIR": str(data_dir / "demo_config"),
        "SYNC_RECEIVER_PUBLIC_URL": f"http://127.0.0.1:{args.receiver_port}",
        "SYNC_CALLBACK_TOKEN": secrets.token_urlsafe(32),
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
        "SHOPIFY_SHOP_URL": f"http://127.0.0.1:{args.shopify_port}",
        "SHOPIFY_ACCESS_TOKEN": SANDBOX_SHOPIFY_TOKEN,
        "SHOPIFY_WEBHOOK_SECRET": SANDBOX_WEBHOOK_SECRET,
        "SHOPIFY_SHOP_DOMAIN": SANDBOX_SHOP_DOMAIN,
        "SHOPIFY_API_VERSION": "2026-10",
        "PEOPLEVOX_BASE_URL": f"http://127.0.0.1:{args.peoplevox_port}",
        "PEOPLEVOX_CLIENT_ID": "sandbox",
        "PEOPLEVOX_USERNAME": "integration",
        "PEOPLEVOX_PASSWORD": SANDBOX_PEOPLEVOX_PASSWORD,
        "PEOPLEVOX_REQUESTS_PER_WINDOW": str(DEMO_REQUESTS_PER_WINDOW),
        "PEOPLEVOX_WINDOW_SECONDS": str(DEMO_WINDOW_SECONDS),
    }
    env = dict(os.environ)
    for key, value in defaults.items():
        env.setdefault(key, value)
    return env


def write_demo_rules(source: Path, target: Path) -> Path:
    """A copy of the shipped rules with the demo's short hold window; the originals stay as they are."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    orders = target / "orders.yaml"
    text = orders.read_text(encoding="utf-8")
    for key, value in (
        ("hold_window_seconds", DEMO_HOLD_WINDOW_SECONDS),
        ("stale_order_minutes", DEMO_STALE_ORDER_MINUTES),
    ):
        text, count = re.subn(rf"(?m)^{key}:.*$", f"{key}: {value}  # written by `make demo`", text)
        if not count:
            text += f"\n{key}: {value}  # written by `make demo`\n"
    orders.write_text(text, encoding="utf-8")
    load_business_rules(target)  # fail now, naming the file, rather than in the first run
    return target


def reset_state(data_dir: Path, dagster_home: Path) -> None:
    """The sandboxes start empty, so yesterday's ledger, inbox and runs describe orders that no
    longer exist (and whose ids the new store will reuse): start from a clean slate."""
    for path in (data_dir / "ledger.duckdb", data_dir / "ledger.duckdb.wal"):
        path.unlink(missing_ok=True)
    shutil.rmtree(data_dir / "inbox", ignore_errors=True)
    shutil.rmtree(data_dir / "logs", ignore_errors=True)
    if dagster_home.exists():
        for entry in dagster_home.iterdir():
            if entry.name != "dagster.yaml":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _start(
    name: str, command: list[str], env: dict[str, str], may_finish: bool = False, log: Path | None = None
) -> Child:
    where = f" (log: {log})" if log else ""
    print(f"[demo] starting {name}: {' '.join(command)}{where}", flush=True)
    # The sandboxes log every request; in a file they do not drown Dagster's and the traffic's lines.
    output = open(log, "ab") if log else None  # noqa: SIM115 (the child holds it open)
    # Own process group, so Ctrl-C reaches us once and we stop children in order.
    process = subprocess.Popen(
        command,
        env=env,
        cwd=REPO_ROOT,
        start_new_session=True,
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
    )
    if output:
        output.close()  # the child has its own descriptor now
    return Child(name, process, may_finish)


def _stop(children: list[Child]) -> None:
    for child in reversed(children):
        if child.process.poll() is None:
            os.killpg(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in reversed(children):
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        # The group may hold grandchildren (dg dev's webserver, daemon, code server).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGKILL)


def _wait_until_up(children: list[Child], urls: dict[str, str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(urls)
    with httpx.Client(timeout=2.0, verify=tls_context()) as http:
        while pending:
            for child in children:
                if child.process.poll() is not None:
                    raise RuntimeError(f"{child.name} exited with code {child.process.returncode}")
            for name, url in list(pending.items()):
                try:
                    if http.get(url).status_code == 200:
                        print(f"[demo] {name} is up ({url})", flush=True)
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"not answering after {timeout:.0f}s: {', '.join(pending)}")
            time.sleep(0.3)


def _seed(env: dict[str, str], seed: int, rules_dir: Path) -> None:
    with SandboxControl(env["SHOPIFY_SHOP_URL"]) as shop, PeoplevoxControl(env["PEOPLEVOX_BASE_URL"]) as pvx:
        catalogue = seed_catalogue(shop, pvx, 300, random.Random(seed), rules_dir)
    print(
        f"[demo] seeded {len(catalogue.shopify_skus)} Shopify SKUs and {len(catalogue.item_codes)} Peoplevox "
        f"item types; left out of Peoplevox on purpose: {', '.join(catalogue.unmapped_skus)}",
        flush=True,
    )


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sync-pipeline demo", description=__doc__)
    parser.add_argument("--ui-port", type=int, default=3000)
    parser.add_argument("--shopify-port", type=int, default=8701)
    parser.add_argument("--peoplevox-port", type=int, default=8702)
    parser.add_argument("--receiver-port", type=int, default=8703)
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / "data")
    parser.add_argument("--orders-per-minute", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=7, help="traffic seed: same catalogue and orders")
    parser.add_argument("--keep-state", action="store_true", help="keep the ledger, inbox and Dagster runs")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)  # `kill` stops the demo as Ctrl-C does

    data_dir = args.data_dir.resolve()
    env = demo_environment(args, data_dir)
    dagster_home = Path(env["DAGSTER_HOME"])
    if not args.keep_state:
        reset_state(data_dir, dagster_home)
    dagster_home.mkdir(parents=True, exist_ok=True)
    # The repo's dagster.yaml is the instance config; DAGSTER_HOME holds it plus SQLite storage.
    shutil.copy(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    rules_dir = write_demo_rules(REPO_ROOT / "data" / "config", Path(env["SYNC_CONFIG_DIR"]))
    print(f"[demo] business rules: {rules_dir} (hold window {DEMO_HOLD_WINDOW_SECONDS}s)", flush=True)

    cli = str(Path(sys.executable).parent / "sync-pipeline")
    dg = str(Path(sys.executable).parent / "dg")
    children: list[Child] = []
    try:
        logs = data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        pvx_limits = ["--requests-per-window", env["PEOPLEVOX_REQUESTS_PER_WINDOW"]]
        pvx_limits += ["--window-seconds", env["PEOPLEVOX_WINDOW_SECONDS"]]
        pvx_limits += ["--time-scale", str(DEMO_TIME_SCALE)]
        shopify = [cli, "sandbox", "shopify", "--port", str(args.shopify_port)]
        children.append(_start("Shopify sandbox", shopify, env, log=logs / "shopify_sandbox.log"))
        peoplevox = [cli, "sandbox", "peoplevox", "--port", str(args.peoplevox_port), *pvx_limits]
        children.append(_start("Peoplevox sandbox", peoplevox, env, log=logs / "peoplevox_sandbox.log"))
        receiver = [cli, "receiver", "--port", str(args.receiver_port)]
        children.append(_start("receiver", receiver, env, log=logs / "receiver.log"))
        _wait_until_up(
            children,
            {
                "Shopify sandbox": f"{env['SHOPIFY_SHOP_URL']}/_sandbox/state",
                "Peoplevox sandbox": f"{env['PEOPLEVOX_BASE_URL']}/_sandbox/state",
                "receiver": f"http://127.0.0.1:{args.receiver_port}/healthz",
            },
        )
        _seed(env, args.seed, rules_dir)
        for step in startup_commands(cli, dg, datetime.now(UTC)):
            print(f"[demo] running {' '.join(step[1:])}", flush=True)
            done = subprocess.run(step, env=env, cwd=REPO_ROOT, timeout=300, check=False)
            if done.returncode:
                print(f"[demo] {' '.join(step[1:])} failed; stopping the demo", flush=True)
                return done.returncode
        traffic = [cli, "traffic", "--no-seed-catalogue", "--seed", str(args.seed), "--duration", "86400"]
        traffic += ["--orders-per-minute", str(args.orders_per_minute)]
        children.append(_start("traffic generator", traffic, env, may_finish=True))
        children.append(
            _start("Dagster (dg dev)", [dg, "dev", "--host", "127.0.0.1", "--port", str(args.ui_port)], env)
        )
        print(f"[demo] Dagster UI: http://127.0.0.1:{args.ui_port}  (Ctrl-C stops everything)", flush=True)
        while True:
            for child in children:
                code = child.process.poll()
                if code is not None and not (child.may_finish and code == 0):
                    print(f"[demo] {child.name} exited with code {code}; stopping the demo", flush=True)
                    return code or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\n[demo] stopping…", flush=True)
        return 0
    except RuntimeError as error:
        print(f"[demo] {error}; stopping the demo", flush=True)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _stop(children)
