"""`create_app`: one self-contained Peoplevox Integration Service sandbox as a Starlette app."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Mount, Route

from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.peoplevox.control_api import control_routes
from sync_pipeline.sandbox.peoplevox.endpoint import AsmxEndpoint
from sync_pipeline.sandbox.peoplevox.state import SandboxState

ASMX_PATH = "/{client_id}/resources/integrationservicev4.asmx"
CONTROL_PREFIX = "/_sandbox"


def create_app(config: PeoplevoxSandboxConfig | None = None) -> Starlette:
    state = SandboxState(config or PeoplevoxSandboxConfig())

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            state.stop()

    control = Mount(CONTROL_PREFIX, routes=control_routes(state))
    # Sales order numbers are any text, line breaks too (control_api.py's `any_text`); Starlette's
    # mount pattern stops at a line break, so it is matched across lines.
    control.path_regex = re.compile(control.path_regex.pattern, re.DOTALL)
    app = Starlette(
        routes=[
            control,
            # Matched case-insensitively inside the endpoint (the real path's case varies).
            Route("/{client_id}/{resources}/{asmx}", AsmxEndpoint(state), methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.sandbox = state
    return app
