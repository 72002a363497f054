"""The Shopify Admin API sandbox as one Starlette app: Admin GraphQL plus the control API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
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
            Route("/bulk-results/{op_id:int}/{token}.jsonl", _bulk_result, methods=["GET"]),
            *control_routes(),
        ],
        lifespan=lifespan,
    )
    app.state.sandbox = state
    app.state.store = state.store
    return app


async def _bulk_result(request: Request) -> Response:
    """A bulk operation's JSONL file, at the unguessable URL its `url` gave (no token header)."""
    state: SandboxState = request.app.state.sandbox
    path = state.bulk.servable(request.path_params["op_id"], request.path_params["token"])
    if path is None:
        # What a signed storage URL answers once it has expired (or never existed).
        return PlainTextResponse("Request has expired or the URL is not valid.", status_code=403)
    return FileResponse(path, media_type="application/jsonl")
