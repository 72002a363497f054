"""The Shopify Admin API sandbox as one Starlette app: Admin GraphQL plus the control API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route

from .config import ShopifySandboxConfig
from .control_api import routes as control_routes
from .endpoint import graphql_endpoint
from .state import SandboxState


def create_app(config: ShopifySandboxConfig | None = None) -> Starlette:
    state = SandboxState(config or ShopifySandboxConfig())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()

    app = Starlette(
        routes=[
            Route("/admin/api/{version}/graphql.json", graphql_endpoint, methods=["POST"]),
            *control_routes(),
        ],
        lifespan=lifespan,
    )
    app.state.sandbox = state
    app.state.store = state.store
    return app
