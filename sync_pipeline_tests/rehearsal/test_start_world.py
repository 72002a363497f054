"""`start_world` stops what it started when it fails part-way: the caller never gets the world to
stop (a code server that never serves, a definitions error, Ctrl-C during the wait)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import types
from pathlib import Path
from typing import Any

import pytest

from sync_pipeline.rehearsal import world as world_mod
from sync_pipeline.rehearsal.profile import load_profile
from sync_pipeline.rehearsal.stack import Ports, Stack, Workdir, _group_alive


class _Null:
    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None

    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *a: object) -> None:
        return None


def test_start_world_leaves_nothing_running_when_the_code_server_never_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The children are real processes (each a `sleep`), the rest of the world stand-ins; the wait
    for the code server fails. Before the fix every child kept running, and `cli.main` then removed
    their working directory."""
    stacks: list[Stack] = []

    class RecordingStack(Stack):
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            stacks.append(self)

        def start(self, name: str, command: list[str], cwd: Path = Path("/")) -> Any:
            return super().start(name, ["sleep", "300"], cwd=Path("/"))

    state = types.SimpleNamespace(warehouse=None, limiter=_Null())
    monkeypatch.setattr(world_mod, "Stack", RecordingStack)
    monkeypatch.setattr(
        world_mod,
        "create_pvx_app",
        lambda cfg: types.SimpleNamespace(state=types.SimpleNamespace(sandbox=state)),
    )
    monkeypatch.setattr(
        world_mod,
        "BackgroundServer",
        lambda app, port: types.SimpleNamespace(
            start=lambda: types.SimpleNamespace(url="http://127.0.0.1:1", stop=lambda: None)
        ),
    )
    monkeypatch.setattr(world_mod, "environment", lambda *a: dict(os.environ))
    monkeypatch.setattr(world_mod, "wait_until_up", lambda *a, **k: None)
    monkeypatch.setattr(world_mod.World, "shop", lambda self, timeout=120.0: _Null())
    monkeypatch.setattr(world_mod.World, "pvx", lambda self, timeout=120.0: _Null())
    monkeypatch.setattr(
        world_mod,
        "seed_catalogue",
        lambda *a: types.SimpleNamespace(skus=[], item_codes=[], sites=[], shopify_skus=[]),
    )
    monkeypatch.setattr(world_mod, "seed", lambda *a, **k: None)
    monkeypatch.setattr(world_mod, "baseline", lambda *a: {})
    monkeypatch.setattr(
        world_mod,
        "subprocess",
        types.SimpleNamespace(run=lambda *a, **k: subprocess.CompletedProcess(a, 0, "", "")),
    )
    monkeypatch.setattr(world_mod, "runs_by_job", lambda *a: {})

    def never_serving(stack: Stack, child: Any, socket: Path, timeout: float = 180.0) -> None:
        raise RuntimeError("code server not serving after 180s (no answer)")

    monkeypatch.setattr(world_mod, "wait_for_code_server", never_serving)
    work = Workdir(tmp_path)
    work.logs.mkdir(parents=True)
    profile = load_profile(None)
    try:
        with pytest.raises(RuntimeError, match="code server"):
            world_mod.start_world(profile, work, Ports(), None, 7, lambda m: None)
        [stack] = stacks
        alive = [c.name for c in stack.children if _group_alive(c.process.pid)]
        assert alive == [], f"left running after start_world failed: {alive}"
    finally:
        for stack in stacks:
            for child in stack.children:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait(5)
