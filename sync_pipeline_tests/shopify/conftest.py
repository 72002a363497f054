"""Fixtures: a sandbox per test on a free 127.0.0.1 port, its control wrapper, a client, a receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.sandbox.server import serve_in_thread
from sync_pipeline.sandbox.shopify.app import create_app
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import (
    ComponentSpec,
    ProductSpec,
    SandboxControl,
    StockSpec,
    VariantSpec,
)
from sync_pipeline.sandbox.shopify.state import SandboxState

TOKEN = "shpat_sandbox"
SHARED = Path(__file__).resolve().parents[2] / "../shared"


@dataclass
class Sandbox:
    url: str
    state: SandboxState
    control: SandboxControl
    client: ShopifyClient

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/admin/api/2026-10/graphql.json"

    def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = TOKEN
    ) -> httpx.Response:
        headers = {"X-Shopify-Access-Token": token} if token else {}
        # A generous timeout: the first request of a version loads its schema, slow under load.
        return httpx.post(
            self.graphql_url, json={"query": query, "variables": variables or {}}, headers=headers, timeout=60
        )

    def seed(self) -> dict[str, dict[str, str]]:
        """A small catalogue: two tees, a mug, a gift card and a bundle of tee + mug; stock 50 each."""
        made = {}
        for spec in (
            ProductSpec(title="Tee", variants=[VariantSpec(sku="TEE-S", title="S", barcode="5000001"),
                                               VariantSpec(sku="TEE-M", title="M", price="12.50")]),
            ProductSpec(title="Mug", variants=[VariantSpec(sku="MUG", price="8.00")]),
            ProductSpec(title="Gift card", variants=[VariantSpec(sku="GIFT-25", price="25.00",
                                                                 requires_shipping=False, is_gift_card=True)]),
            ProductSpec(title="Breakfast bundle", variants=[VariantSpec(
                sku="BUNDLE-BRK", price="18.00",
                components=[ComponentSpec(sku="TEE-S", quantity=1), ComponentSpec(sku="MUG", quantity=2)])]),
        ):  # fmt: skip
            for v in self.control.add_product(spec)["variants"]:
                made[v["sku"]] = v
        self.control.set_stock([StockSpec(sku=s, available=50) for s in ("TEE-S", "TEE-M", "MUG")])
        return made

    def location_id(self) -> str:
        return str(self.control.state()["locations"][0]["id"])


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    with ExitStack() as stack:

        def make(config: ShopifySandboxConfig | None = None, **client_args: Any) -> Sandbox:
            app = create_app(config or ShopifySandboxConfig())
            url = stack.enter_context(serve_in_thread(app))
            control = SandboxControl(url)
            stack.callback(control.close)
            client_args.setdefault("backoff_base", 0.05)
            client = ShopifyClient(url, TOKEN, **client_args)
            stack.callback(client.close)
            return Sandbox(url, app.state.sandbox, control, client)

        yield make


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox()


@dataclass
class Receiver:
    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    fail_first: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(
        self, predicate: Callable[[list[tuple[dict[str, str], bytes]]], bool], timeout: float = 5.0
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(list(self.requests)):
                    return
            time.sleep(0.02)
        raise AssertionError(f"receiver condition not met in {timeout}s; got {len(self.requests)} requests")

    def topics(self) -> list[str]:
        with self.lock:
            return [h["x-shopify-topic"] for h, _ in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    async def hook(request: Request) -> Response:
        rec = holder["r"]
        body = await request.body()
        with rec.lock:
            if rec.fail_first > 0:
                rec.fail_first -= 1
                return Response(status_code=500)
            rec.requests.append((dict(request.headers), body))
        return Response(status_code=200)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    with serve_in_thread(app) as url:
        holder["r"] = Receiver(f"{url}/hook")
        yield holder["r"]
