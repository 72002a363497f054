"""Fixtures: a fresh Peoplevox sandbox per test on a free 127.0.0.1 port, a client, a callback receiver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.sandbox.peoplevox.app import create_app
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl
from sync_pipeline.sandbox.server import serve_in_thread

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared" / "reference" / "peoplevox"
PASSWORD = "sandbox-password"


@dataclass
class Sandbox:
    url: str
    control: PeoplevoxControl
    config: PeoplevoxSandboxConfig

    @property
    def asmx(self) -> str:
        return f"{self.url}/{self.config.client_id}/resources/integrationservicev4.asmx"

    def client(self, **kwargs: Any) -> PeoplevoxClient:
        options: dict[str, Any] = {"requests_per_window": 10_000, "window_seconds": 15, "backoff_base": 0.01}
        options.update(kwargs)
        return PeoplevoxClient(
            self.url, self.config.client_id, self.config.username, self.config.password, **options
        )


@contextmanager
def running_sandbox(**overrides: Any) -> Iterator[Sandbox]:
    settings: dict[str, Any] = {"requests_per_window": 10_000}
    settings.update(overrides)
    config = PeoplevoxSandboxConfig(**settings)
    with serve_in_thread(create_app(config)) as url, PeoplevoxControl(url) as control:
        yield Sandbox(url, control, config)


@pytest.fixture
def make_sandbox() -> Callable[..., AbstractContextManager[Sandbox]]:
    return running_sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox() as box:
        yield box


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[PeoplevoxClient]:
    with sandbox.client() as pvx:
        yield pvx


@dataclass
class Receiver:
    url: str
    calls: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP endpoint that records every callback it receives."""
    calls: list[dict[str, Any]] = []

    async def record(request: Request) -> PlainTextResponse:
        body = (await request.body()).decode()
        calls.append(
            {"method": request.method, "path": request.url.path, "query": request.url.query, "body": body}
        )
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/{path:path}", record, methods=["GET", "POST"])])
    with serve_in_thread(app) as url:
        yield Receiver(url, calls)


@pytest.fixture
def shared_wsdl() -> Path:
    path = SHARED / "integrationservicev4.wsdl"
    if not path.exists():
        pytest.skip("../shared/reference/peoplevox is not beside the checkout")
    return path


def seed_catalogue(control: PeoplevoxControl, items: int = 3, stock: int = 50) -> list[str]:
    codes = [f"SKU-{i}" for i in range(1, items + 1)]
    control.seed_items([(code, f"50000{i}", f"Item {i}") for i, code in enumerate(codes, start=1)])
    control.set_stock([(code, "PrimarySite", stock) for code in codes])
    return codes
