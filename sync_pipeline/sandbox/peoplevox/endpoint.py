"""The ASMX endpoint as a raw ASGI app, so fault injection can cut a connection mid-answer.

``POST /{clientId}/resources/integrationservicev4.asmx`` takes SOAP 1.1; ``GET …?wsdl``
returns the WSDL. The path's last two segments match case-insensitively, as the real
service's do; an unknown client id is a 404.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from sync_pipeline.sandbox.peoplevox.limiter import RateLimited
from sync_pipeline.sandbox.peoplevox.service import IntegrationService
from sync_pipeline.sandbox.peoplevox.soap import (
    SERVER_TIMEOUT,
    IntegrationResult,
    SoapFault,
    parse_request,
    render_fault,
    render_response,
)
from sync_pipeline.sandbox.peoplevox.state import SandboxState
from sync_pipeline.sandbox.peoplevox.wsdl import wsdl_for

XML = "text/xml; charset=utf-8"


class ConnectionDropped(Exception):
    """Raised after a partial answer so the server aborts the connection (fault injection)."""


class AsmxEndpoint:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.service = IntegrationService(state)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        params: dict[str, Any] = scope.get("path_params", {})
        client_id = str(params.get("client_id", ""))
        if (
            str(params.get("resources", "")).lower() != "resources"
            or str(params.get("asmx", "")).lower() != "integrationservicev4.asmx"
            or client_id != self.state.config.client_id
        ):
            await PlainTextResponse("Not Found", 404)(scope, receive, send)
            return
        if request.method == "GET" and "wsdl" in {k.lower() for k in request.query_params}:
            address = str(request.url.replace(query=""))
            await Response(wsdl_for(address), media_type=XML)(scope, receive, send)
            return
        if request.method != "POST":
            await PlainTextResponse("Method Not Allowed", 405)(scope, receive, send)
            return
        await self._soap(request, client_id, scope, receive, send)

    async def _soap(
        self, request: Request, client_id: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        state, faults = self.state, self.state.faults
        body = await request.body()
        if len(body) > state.config.max_request_bytes:
            # ASP.NET's HttpException, answered by the host before the service runs: an HTML error
            # page with HTTP 500, no SOAP fault, nothing saved (config.py `max_request_bytes`).
            page = "<html><body><h2>Maximum request length exceeded.</h2></body></html>"
            await Response(page, 500, media_type="text/html; charset=utf-8")(scope, receive, send)
            return
        if faults.latency_seconds:
            await asyncio.sleep(faults.latency_seconds)
        if state.take_fault("error_next") or state.roll(faults.error_rate, "error_rate"):
            status = faults.error_status
            await PlainTextResponse(f"Injected fault: HTTP {status}", status)(scope, receive, send)
            return
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("text/xml"):
            fault = SoapFault(f"Unsupported content type '{content_type}'; SOAP 1.1 needs text/xml")
            await Response(render_fault(fault), 415, media_type=XML)(scope, receive, send)
            return
        try:
            soap_request = parse_request(body, request.headers.get("soapaction"))
        except SoapFault as fault:
            await Response(render_fault(fault), 500, media_type=XML)(scope, receive, send)
            return
        if state.take_fault("server_fault_next"):
            fault = SoapFault(SERVER_TIMEOUT, "soap:Server")
            await Response(render_fault(fault), 500, media_type=XML)(scope, receive, send)
            return
        try:
            result = await run_in_threadpool(self.service.handle, client_id, soap_request)
        except SoapFault as fault:  # a server error part-way (fault injection), as ASMX reports it
            await Response(render_fault(fault), 500, media_type=XML)(scope, receive, send)
            return
        except RateLimited as refused:
            await self._refusal(soap_request.operation, refused)(scope, receive, send)
            return
        payload = render_response(soap_request.operation, result)
        is_save = soap_request.operation == "SaveData" and result.statuses is not None
        if is_save and state.take_fault("slow_save_next"):
            await asyncio.sleep(faults.slow_save_seconds)
        if is_save and state.take_fault("drop_after_save_next"):
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", XML.encode()),
                        (b"content-length", str(len(payload)).encode()),
                    ],
                }
            )
            await send(
                {"type": "http.response.body", "body": payload[: len(payload) // 3], "more_body": True}
            )
            raise ConnectionDropped("fault injection: connection dropped after SaveData was applied")
        await Response(payload, 200, media_type=XML)(scope, receive, send)

    def _refusal(self, operation: str, refused: RateLimited) -> Response:
        """The limiter's refusal in the configured shape (limiter.py lists them)."""
        shape = self.state.limiter.shape
        if shape == "http_429":
            seconds = str(max(1, math.ceil(refused.wait)))
            return PlainTextResponse("Too Many Requests", 429, headers={"Retry-After": seconds})
        if shape == "http_429_no_retry_after":
            return PlainTextResponse("Too Many Requests", 429)
        if shape == "http_503":
            return PlainTextResponse("Service Unavailable", 503)
        if shape == "soap_fault":
            fault = SoapFault(f"Server was unable to process request. ---> {refused.detail}", "soap:Server")
            return Response(render_fault(fault), 500, media_type=XML)
        return Response(
            render_response(operation, IntegrationResult.error(refused.detail)), 200, media_type=XML
        )
