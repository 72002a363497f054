"""Exceptions raised by the Peoplevox client. Messages never carry the password or session id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class PeoplevoxError(Exception):
    """Peoplevox answered with an error (ResponseId -1) that retrying will not fix."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class PeoplevoxAuthError(PeoplevoxError):
    """Authenticate was refused (wrong client id, user name or password)."""


class PeoplevoxSessionError(PeoplevoxError):
    """The session stayed invalid even after re-authenticating once."""


class PeoplevoxFault(PeoplevoxError):
    """The service answered with a client-side SOAP fault (`soap:Client`): the request itself
    was rejected. `soap:Server` faults are retried (reads) or `SaveOutcomeUnknown` (saves)."""


class SaveTooLarge(PeoplevoxError):
    """A SaveData request bigger than the client sends (`max_request_bytes`); nothing was sent,
    so the caller may split the rows and save them in smaller requests."""


class ReportChangedDuringRead(PeoplevoxError):
    """A whole report lost rows while it was paged, so rows after the change were skipped."""


class ReportLongerThanAsked(PeoplevoxError):
    """A paged read whose first page announced more pages than the caller would read
    (`max_pages`); no later page was asked for."""

    def __init__(self, total_count: int, max_pages: int) -> None:
        super().__init__(f"the report holds {total_count:,} rows, more than {max_pages:,} pages")
        self.total_count = total_count


class PeoplevoxUnavailable(PeoplevoxError):
    """Retries ran out on transport errors, 5xx answers or the request limiter."""


class SaveOutcomeUnknown(PeoplevoxError):
    """A SaveData request was sent but no usable answer came back (timeout, dropped connection,
    5xx, a `soap:Server` fault, or results that cannot be paired with the rows).

    Some, all or none of the rows may have been saved. Look the records up (by their keys)
    before sending them again; `records` are the caller's records that were in the request.
    """

    def __init__(self, template: str, records: Sequence[Any], cause: str) -> None:
        super().__init__(f"outcome of SaveData '{template}' ({len(records)} rows) is unknown: {cause}")
        self.template = template
        self.records = list(records)
        self.cause = cause
