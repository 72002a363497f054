"""`dg dev` as `make demo` runs it (one brand, embedded SQLite instance), on a seeded ledger, with
its sandboxes and receiver on free 127.0.0.1 ports; and Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sync_pipeline.sandbox.server import free_port
from sync_pipeline_tests.deploy.stack import (
    BIN,
    REPO_ROOT,
    Brand,
    Process,
    base_environment,
    environment,
    start_brand,
    start_process,
    stop_brand,
    stop_processes,
)

CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium as root in a closed network: no sandbox (root), no GPU, no calls home.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = "apt-get install -y chromium (make system-packages does it)"


@dataclass
class UiStack:
    url: str
    brand: Brand
    home: Path
    env: dict[str, str]
    processes: list[Process]

    def diagnostics(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail(3000)}" for p in self.processes)


def _seed(env: dict[str, str], home: Path) -> None:
    """The seeded ledger, as the demo seeds it: the schema, both catalogues and the drift check,
    run in this process (no extra interpreter to start) against the instance `dg dev` will use."""
    import dagster as dg

    from sync_pipeline.definitions import defs

    definitions = defs()
    with environment(env), dg.DagsterInstance.from_config(str(home)) as instance:
        for job in ("catalogue_job",):
            assert definitions.resolve_job_def(job).execute_in_process(instance=instance).success
        schema = definitions.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection={dg.AssetKey(["ledger", "schema"])}
        )
        assert schema.execute_in_process(instance=instance).success


@contextlib.contextmanager
def running_dg_dev(root: Path, skus: list[str]) -> Iterator[UiStack]:
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    # No sensor or schedule: the tests read pages and launch one backfill, which the daemon runs anyway.
    brand = start_brand(
        "ui", skus, root / "brand", {**base_environment(), "DAGSTER_HOME": str(home)}, flows="none"
    )
    env = {k: v for k, v in brand.env.items() if k != "SYNC_BRAND"}  # the single-brand default
    processes: list[Process] = []
    try:
        _seed(env, home)
        port = free_port()
        command = [str(BIN / "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)]
        processes.append(start_process("dg-dev", command, env, REPO_ROOT, root / "logs"))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while True:
            if processes[0].popen.poll() is not None:
                raise RuntimeError("dg dev exited:\n" + processes[0].tail())
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("dg dev did not answer within 240s:\n" + processes[0].tail())
            time.sleep(0.5)
        yield UiStack(url=url, brand=brand, home=home, env=env, processes=processes)
    finally:
        stop_processes(processes)
        stop_brand(brand)


def chromium_or_skip() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"Debian's Chromium is missing; CI must install it: {INSTALL_HINT}")
    pytest.skip(f"Chromium not installed: {INSTALL_HINT}")
