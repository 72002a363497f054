"""What an HTTP answer from the Integration Service means: a result, a refusal, or a failure.

* Limiter refusals (`LimitRefused`: nothing was done, wait and resend). How Peoplevox refuses
  over its limit is unknown (API.md §11), so each of these counts: a Detail naming the limit
  (HTTP 200), HTTP 429 or 503 with or without `Retry-After`, a `soap:Server` fault whose text
  names a limit. The wait is `Retry-After`, the text's "Retry after N seconds", or a window.
* Failures after the request was sent (`Retryable`): a `soap:Server` fault (ASMX's report of an
  unhandled server error such as a SQL timeout), another 5xx, an unreadable answer. Reads
  retry them; for a save the outcome is unknown.
* A client-side fault (`soap:Client`: the request itself is malformed) is `PeoplevoxFault`.

A Detail is read as the service's own message about the whole request (a limit refusal here, a
session error in client.py) only by `whole_request_message`: an answer that did something (a
saved row, a `Success` status) is never one, and quoted text is left out, because a refused row's
message quotes the row's values (`Item type 'THROTTLE-BODY-01' does not exist`): a SKU or a name
must never turn a partial save into a refusal that is resent.
"""

from __future__ import annotations

import re

import httpx

from sync_pipeline.lib.peoplevox.errors import PeoplevoxError, PeoplevoxFault
from sync_pipeline.lib.peoplevox.soap import (
    IntegrationResponse,
    ResponseFormatError,
    SoapFaultInfo,
    parse_response,
)
from sync_pipeline.lib.retry_after import retry_after_seconds

# Words a limiter's refusal is assumed to use, in a Detail or a soap:Server fault's text.
_LIMIT = re.compile(r"request limit|rate limit|too many requests|throttl", re.IGNORECASE)
_RETRY_AFTER = re.compile(r"retry after ([0-9]+(?:\.[0-9]+)?) second", re.IGNORECASE)
# Never sleep longer than this on one refusal, whatever the service says.
MAX_LIMIT_WAIT = 120.0


class LimitRefused(Exception):
    """The service refused on its request limit; nothing of the request was done."""

    def __init__(self, wait: float, shape: str) -> None:
        super().__init__(shape)
        self.wait = wait
        self.shape = shape


class Retryable(Exception):
    """A failure after the request was sent: reads retry it, a save's outcome is unknown."""


def interpret(operation: str, answer: httpx.Response, window: float) -> IntegrationResponse:
    """The answer's IntegrationResponse, or the exception saying what went wrong.

    `window` is the pacer's window: the wait when a refusal does not say how long.
    """
    status = answer.status_code
    if status in (429, 503):
        wait = retry_after(answer.headers.get("retry-after"))
        raise LimitRefused(window if wait is None else wait, f"HTTP {status}")
    try:
        parsed = parse_response(answer.content, operation)
    except ResponseFormatError as exc:
        if status >= 500 or status == 200:
            raise Retryable(f"HTTP {status}: {exc}") from None
        raise PeoplevoxError(f"{operation}: HTTP {status}") from None
    if isinstance(parsed, SoapFaultInfo):
        if is_server_fault(parsed.code) and _LIMIT.search(parsed.message):
            # A limiter that reports itself as a server error refused before doing anything.
            raise LimitRefused(limit_wait(parsed.message, window), f"SOAP fault {parsed.code}")
        if is_server_fault(parsed.code):
            raise Retryable(f"HTTP {status}: SOAP fault {parsed.code}: {parsed.message}")
        raise PeoplevoxFault(f"{operation}: SOAP fault {parsed.code}: {parsed.message}", parsed.message)
    if status != 200:
        raise Retryable(f"HTTP {status}")
    message = whole_request_message(parsed)
    if message is not None and _LIMIT.search(message):
        raise LimitRefused(limit_wait(message, window), "request limit")
    return parsed


_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")


def whole_request_message(response: IntegrationResponse) -> str | None:
    """The Detail of an answer that refused the whole request, without its quoted values; None
    for a success or an answer that did anything (the module docstring says why)."""
    if response.ok or response.total_count > 0:
        return None
    if response.statuses and any(s.status.casefold() == "success" for s in response.statuses):
        return None
    return _QUOTED.sub("", response.detail)


def limit_wait(text: str, window: float) -> float:
    """The wait a refusal's text asks for ("Retry after 3.2 seconds"), else a whole window."""
    match = _RETRY_AFTER.search(text)
    return min(float(match.group(1)), MAX_LIMIT_WAIT) if match else window


def retry_after(value: str | None) -> float | None:
    """A Retry-After header in seconds, capped at `MAX_LIMIT_WAIT`; None if absent or unreadable."""
    seconds = retry_after_seconds(value)
    return None if seconds is None else min(seconds, MAX_LIMIT_WAIT)


def is_server_fault(code: str) -> bool:
    """`soap:Server` (any prefix, or a `Server.…` subcode): the server failed, not the request."""
    local = code.strip().rpartition(":")[2]
    return local == "Server" or local.startswith("Server.")
