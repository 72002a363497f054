"""`POST /admin/api/{version}/graphql.json`: auth, faults, parse, validate, cost, bucket, execute.

Assumptions (stricter where Shopify's behaviour is not documented):
- Parse and validation failures answer HTTP 200 with `errors` and no `data`, like execution
  errors; a body that is not JSON or has no `query` answers 400.
- `faults.rate_limit_429_next` answers that many calls (after auth, before anything else)
  HTTP 429 with `Retry-After: <retry_after_seconds>` and a REST-style `{"errors": "…"}` body,
  as Shopify's edge sometimes does instead of the usual HTTP 200 THROTTLED; no bucket points
  are taken.
- `faults.spend_bucket_before` empties the bucket just before the named operation's next calls
  (another reader spending it): the call then meets the ordinary bucket check and is THROTTLED,
  with the throttle status of an empty bucket.
- An input array over 250 items (any argument) is refused with MAX_INPUT_SIZE_EXCEEDED before
  any cost check (input_limits.py).
- A query whose requested cost exceeds 1,000 is refused with MAX_COST_EXCEEDED before any
  bucket check; one the bucket cannot cover answers HTTP 200 with THROTTLED, no `data`,
  and `actualQueryCost: null`. The requested cost is taken up front and the unused part
  refunded after execution, so a burst is judged by what it *might* cost.
"""

from __future__ import annotations

import asyncio
import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, execute, get_operation_ast, parse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from .cost import CostCalculator
from .errors import format_error, single, validation_errors
from .input_limits import input_size_errors
from .schema import load_schema, served_version

if TYPE_CHECKING:
    from .state import SandboxState

UNAUTHORIZED = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLE_DOCS = "https://shopify.dev/api/usage/rate-limits"
RATE_LIMITED = "Exceeded the rate limit for api client. Reduce request rates to resume uninterrupted service."


async def graphql_endpoint(request: Request) -> JSONResponse:
    state: SandboxState = request.app.state.sandbox
    version = served_version(request.path_params["version"])
    headers = {"X-Shopify-API-Version": version}
    if request.headers.get("x-shopify-access-token") != state.config.access_token:
        return JSONResponse({"errors": UNAUTHORIZED}, status_code=401, headers=headers)
    fault = await _apply_faults(state, headers)
    if fault is not None:
        return fault
    try:
        body = json.loads(await request.body())
        query = body["query"]
        variables = body.get("variables") or {}
        if not isinstance(query, str) or not isinstance(variables, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"errors": {"query": "Required parameter missing or invalid"}}, 400, headers)
    base_url = str(request.base_url).rstrip("/")
    result = await run_in_threadpool(
        _run, state, version, query, variables, body.get("operationName"), base_url
    )
    state.stats["requests"] += 1
    faults = state.config.faults
    if faults.lose_answer_next > 0 and query.lstrip().startswith("mutation"):
        # Applied, then the answer is lost: the caller cannot tell whether it happened.
        faults.lose_answer_next -= 1
        state.stats["answers_lost"] += 1
        await asyncio.sleep(faults.lose_answer_seconds)
        return JSONResponse({"errors": "Gateway Timeout"}, status_code=504)
    return JSONResponse(result, headers=headers)


async def _apply_faults(state: SandboxState, headers: dict[str, str]) -> JSONResponse | None:
    faults = state.config.faults
    if faults.rate_limit_429_next > 0:
        # Runs on the event loop with no await before the decrement, so concurrent calls each
        # see their own count.
        faults.rate_limit_429_next -= 1
        state.stats["rate_limited"] += 1
        retry = {**headers, "Retry-After": str(float(faults.retry_after_seconds))}
        return JSONResponse({"errors": RATE_LIMITED}, status_code=429, headers=retry)
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    roll = state.random.random()
    if roll < faults.timeout_rate:
        state.stats["timeouts_injected"] += 1
        await asyncio.sleep(faults.timeout_seconds)
        return JSONResponse({"errors": "Gateway Timeout"}, status_code=504)
    if roll < faults.timeout_rate + faults.error_rate:
        state.stats["errors_injected"] += 1
        return JSONResponse({"errors": "Internal Server Error"}, status_code=503)
    return None


@lru_cache(maxsize=512)
def _parsed(version: str, query: str) -> DocumentNode | str:
    """The parsed, validated document for a query text, or the JSON of its errors. A client sends
    the same few documents over and over (only the variables change), and parsing plus validating
    against the Admin schema was the larger part of the sandbox's CPU for a small mutation such as
    `fulfillmentCreate`. Nothing downstream changes a document, so one parse serves every request."""
    schema = load_schema(version)
    try:
        document = parse(query)
    except GraphQLError as exc:
        return json.dumps([format_error(exc, "PARSE_ERROR")])
    errors = validation_errors(schema, document)
    return json.dumps(errors) if errors else document


def _run(
    state: SandboxState, version: str, query: str, variables: dict[str, Any], name: str | None, base_url: str
) -> Any:
    schema = load_schema(version)
    document = _parsed(version, query)
    if isinstance(document, str):  # a fresh copy of the errors for each answer
        return {"errors": json.loads(document)}
    operation = get_operation_ast(document, name)
    if not isinstance(operation, OperationDefinitionNode):
        return single("An operation name is required when the document has several operations", "BAD_REQUEST")
    oversized = input_size_errors(schema, document, operation, variables)
    if oversized:
        return {"errors": oversized}
    calc = CostCalculator(schema, document, operation, variables)
    requested = calc.requested()
    bucket = state.bucket
    max_cost = state.config.max_query_cost
    if requested > max_cost:
        body = single(
            f"Query cost is {requested}, which exceeds the single query max cost limit ({max_cost}).",
            "MAX_COST_EXCEEDED",
            cost=requested,
            maxCost=max_cost,
            documentation=THROTTLE_DOCS,
        )
        body["extensions"] = _cost(requested, None, bucket.throttle_status())
        return body
    named = operation.name.value if operation.name else "anonymous"
    if _another_reader_spends_the_bucket(state, named):
        bucket.drain()
    if not bucket.try_take(requested):
        state.stats["throttled"] += 1
        body = single("Throttled", "THROTTLED", documentation=THROTTLE_DOCS)
        body["extensions"] = _cost(requested, None, bucket.throttle_status())
        return body
    context: dict[str, Any] = {
        "config": state.config,
        "state": state,
        "version": version,
        "base_url": base_url,
    }
    with state.store.lock:  # one consistent snapshot per request, like a database transaction
        result = execute(schema, document, state.root, context, variables, name)
    data = result.data
    actual = min(requested, calc.actual(data))
    bucket.refund(requested - actual)
    state.stats["points_spent"] += actual
    # Per operation too, so a benchmark can say which reads spend the bucket.
    state.stats[f"points_spent:{named}"] += actual
    out: dict[str, Any] = {}
    if result.errors:
        code = "INTERNAL_SERVER_ERROR"
        if data is None and all(not e.path for e in result.errors):
            code = "INVALID_VARIABLE"  # variable coercion fails before any resolver runs
        out["errors"] = [format_error(e, code) for e in result.errors]
    out["data"] = data
    extensions: dict[str, Any] = _cost(requested, actual, bucket.throttle_status())
    if context.get("search"):
        extensions["search"] = context["search"]
    out["extensions"] = extensions
    return out


def _another_reader_spends_the_bucket(state: SandboxState, operation: str) -> bool:
    """`faults.spend_bucket_before`: True (and counted down) while `operation` has calls left."""
    faults = state.config.faults
    with state.store.lock:
        left = faults.spend_bucket_before.get(operation, 0)
        if left <= 0:
            return False
        faults.spend_bucket_before[operation] = left - 1
        return True


def _cost(requested: int, actual: int | None, throttle: dict[str, float]) -> dict[str, Any]:
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": throttle}}
