"""`PeoplevoxClient`: the Integration Service over httpx, with sessions, pacing and retries.

* Authenticates lazily and again after ``session_refresh_seconds`` idle (the service drops
  sessions after about 30 minutes). On a "Session Expired"/"Invalid Session" answer it
  re-authenticates once and repeats the call once (never for an answer that saved rows, nor for
  such text inside a quoted value: answers.whole_request_message). Given a `session_file`, it takes the session
  another process of the tenant left there and leaves its own (session_file.py says why, and
  how the file is protected): one Authenticate per idle half hour, not one per run.
* Paces itself with a `RequestPacer` matching the service's limiter (the tenant's shared one in
  Dagster steps: every process of the tenant spends one budget); on a refusal, in any of
  the shapes `answers.py` recognises, it holds every slot as long as told (or a window) and
  tries again: a refused request did nothing, so saves are resent too.
* Transport errors before the request was sent, and failures after it (a `soap:Server` fault,
  another 5xx, an unreadable answer) on reads, are retried with capped exponential backoff
  and full jitter. A `soap:Client` fault raises `PeoplevoxFault` at once.
* A SaveData request above `max_request_bytes` is not sent (`SaveTooLarge`): the service
  refuses a body over its size limit with a bare HTTP 500, which would leave its rows in doubt.
* A SaveData whose request left but whose answer did not arrive or failed (timeout, dropped
  connection, 5xx, a `soap:Server` fault) raises `SaveOutcomeUnknown` and is never resent
  blindly. An answer whose per-row results cannot be trusted is settled by looking the rows
  up (`save_results.py`).

The password and session id are never logged or put in exception messages.
"""

from __future__ import annotations

import base64
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, TypeVar

import httpx

from sync_pipeline.lib.peoplevox.answers import LimitRefused, Retryable, interpret, whole_request_message
from sync_pipeline.lib.peoplevox.csv_io import read_csv, read_header, write_csv
from sync_pipeline.lib.peoplevox.errors import (
    PeoplevoxAuthError,
    PeoplevoxError,
    PeoplevoxSessionError,
    PeoplevoxUnavailable,
    ReportChangedDuringRead,
    ReportLongerThanAsked,
    SaveOutcomeUnknown,
    SaveTooLarge,
)
from sync_pipeline.lib.peoplevox.models import PvxRow
from sync_pipeline.lib.peoplevox.pacer import RequestPacer
from sync_pipeline.lib.peoplevox.save_results import (
    SaveResult,
    confirm_by_lookup,
    pair_by_position,
)
from sync_pipeline.lib.peoplevox.session_file import SessionFile, StoredSession
from sync_pipeline.lib.peoplevox.soap import (
    IntegrationResponse,
    element,
    envelope,
)
from sync_pipeline.lib.tls import tls_context

log = logging.getLogger(__name__)

SESSION_ERRORS = ("Security - Invalid Session", "Security - Session Expired")
MAX_ITEMS_PER_PAGE = 1000
# The largest request body the client sends. Assumed [I]: Peoplevox's Integration Service is an
# ASP.NET ASMX service, and ASP.NET refuses a body above `maxRequestLength`, 4,096 KB unless the
# tenant's host raised it, with an HTTP 500 before the service runs (the sandbox does the same:
# sandbox/peoplevox/endpoint.py). A quarter of that leaves room for a host configured lower; a
# 1,000-row save of sales order headers is ~0.5 MB, so it binds only rows of unusual size.
MAX_REQUEST_BYTES = 1024 * 1024
M = TypeVar("M", bound=PvxRow)


class SaveAction(IntEnum):
    INSERT_OR_UPDATE = 0
    DO_NOT_ALLOCATE = 1
    DELETE = 2


@dataclass
class DataPage:
    rows: list[dict[str, str]]
    total_count: int
    page_no: int
    items_per_page: int


class PeoplevoxClient:
    def __init__(
        self,
        base_url: str,
        client_id: str,
        username: str,
        password: str,
        requests_per_window: int = 15,
        window_seconds: float = 15,
        *,
        timeout: float = 120.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 15.0,
        session_refresh_seconds: float = 1500.0,
        pacer: RequestPacer | None = None,
        session_file: Path | None = None,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client_id = client_id
        self.username = username
        self._password = password
        self.endpoint = f"{base_url.rstrip('/')}/{client_id}/resources/integrationservicev4.asmx"
        # A pacer of its own (in-process) unless given the tenant's shared one; a slot in flight
        # longer than the HTTP timeout allows belongs to a dead process (pacer.py).
        self.pacer = pacer or RequestPacer(
            requests_per_window, window_seconds, sleep=sleep, stale_after=timeout + 30
        )
        self.max_retries = max_retries
        self.max_request_bytes = max_request_bytes
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.session_refresh_seconds = session_refresh_seconds
        self._sleep = sleep
        self._session: StoredSession | None = None
        self._session_file = (
            None if session_file is None else SessionFile(session_file, self.endpoint, username)
        )
        self._http = httpx.Client(timeout=timeout, transport=transport, verify=tls_context())
        self.requests_sent = 0
        self.wire_seconds = 0.0  # requests out and answers back: not pacing, not retry sleeps
        self.reauthentications = 0
        self.authentications = 0
        self.limit_refusals = 0

    def __repr__(self) -> str:  # never show the password
        return f"PeoplevoxClient(endpoint={self.endpoint!r}, username={self.username!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PeoplevoxClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- session --------------------------------------------------------------------------
    def authenticate(self) -> None:
        body = (
            element("clientId", self.client_id)
            + element("username", self.username)
            + element("password", base64.b64encode(self._password.encode()).decode())
        )
        response = self._send("Authenticate", body, session=None, save_records=None)
        if not response.ok:
            self._session = None
            raise PeoplevoxAuthError(f"Peoplevox refused the credentials: {response.detail}", response.detail)
        _, _, session_id = response.detail.partition(",")
        if not session_id:
            raise PeoplevoxAuthError("Authenticate answered without a session id")
        self._session = StoredSession(session_id.strip(), time.time())
        self.authentications += 1
        log.info("peoplevox: authenticated as %s", self.username)
        if self._session_file is not None:
            self._session_file.save(self._session)

    def _session_id(self, refused: set[str] | frozenset[str] = frozenset()) -> str:
        """The session to send: this client's, else the tenant's shared one (unless the service
        has just `refused` it), else a new one."""
        session = self._session
        if session is None or time.time() - session.last_used > self.session_refresh_seconds:
            self._session = None
            if self._session_file is not None:
                self._session = self._session_file.load(self.session_refresh_seconds, avoid=refused)
            if self._session is None:
                self.authenticate()
            session = self._session
        assert session is not None
        return session.session_id

    def _call(
        self, operation: str, body: str, save_records: Sequence[Any] | None = None
    ) -> IntegrationResponse:
        # A refused session is never sent again. One from the shared file may be refused too
        # (another process's, gone idle), so the call gives up only when a session authenticated
        # after a refusal is refused: re-authenticate once, then retry once.
        refused: set[str] = set()
        for _ in range(3):
            authenticated_before = self.authentications
            session_id = self._session_id(refused)
            response = self._send(operation, body, session=session_id, save_records=save_records)
            if not _is_session_error(response):
                if self._session is not None:
                    self._session.last_used = time.time()
                    if self._session_file is not None:
                        self._session_file.touch(self._session)
                return response
            log.info("peoplevox: session no longer valid during %s; re-authenticating", operation)
            self._session = None
            refused.add(session_id)
            self.reauthentications += 1
            if self.authentications > authenticated_before and len(refused) > 1:
                break
        raise PeoplevoxSessionError(f"{operation}: session still invalid after re-authenticating")

    # -- transport --------------------------------------------------------------------------
    def _send(
        self, operation: str, body: str, session: str | None, save_records: Sequence[Any] | None
    ) -> IntegrationResponse:
        payload = envelope(operation, body, None if session is None else (self.client_id, session))
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"http://www.peoplevox.net/{operation}"',
        }
        is_save = save_records is not None
        if is_save and len(payload) > self.max_request_bytes:
            raise SaveTooLarge(
                f"SaveData '{_template_of(body)}': {len(save_records or [])} rows make a request of "
                f"{len(payload):,} bytes, over the {self.max_request_bytes:,} the client sends in one request"
            )
        last_problem = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._sleep(random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt)))
            slot = self.pacer.acquire()
            sent_at = time.monotonic()
            try:
                self.requests_sent += 1
                answer = self._http.post(self.endpoint, content=payload, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                last_problem = f"{type(exc).__name__}"  # never sent: safe to retry anything
                log.warning("peoplevox: %s not sent (%s), attempt %d", operation, last_problem, attempt + 1)
                continue
            except httpx.TransportError as exc:
                last_problem = type(exc).__name__
                if is_save:
                    raise SaveOutcomeUnknown(_template_of(body), save_records or [], last_problem) from None
                log.warning(
                    "peoplevox: %s failed after sending (%s), attempt %d",
                    operation,
                    last_problem,
                    attempt + 1,
                )
                continue
            finally:
                self.wire_seconds += time.monotonic() - sent_at
                self.pacer.release(slot)
            try:
                return interpret(operation, answer, self.pacer.window)
            except LimitRefused as refused:
                log.warning(
                    "peoplevox: request limit hit on %s (%s); waiting %.1fs",
                    operation,
                    refused.shape,
                    refused.wait,
                )
                self.pacer.back_off(refused.wait)
                self.limit_refusals += 1
                last_problem = f"request limit ({refused.shape})"
            except Retryable as retry:
                last_problem = str(retry)
                if is_save:  # the request may have been done, in part or whole
                    raise SaveOutcomeUnknown(_template_of(body), save_records or [], last_problem) from None
                log.warning("peoplevox: %s got %s, attempt %d", operation, last_problem, attempt + 1)
        raise PeoplevoxUnavailable(
            f"{operation}: gave up after {self.max_retries + 1} attempts ({last_problem})"
        )

    # -- reads ------------------------------------------------------------------------------
    def get_data(
        self,
        template: str,
        search_clause: str = "",
        page_no: int = 1,
        items_per_page: int = MAX_ITEMS_PER_PAGE,
    ) -> DataPage:
        items_per_page = min(items_per_page, MAX_ITEMS_PER_PAGE)
        body = (
            "<getRequest>"
            + element("TemplateName", template)
            + element("PageNo", page_no)
            + element("ItemsPerPage", items_per_page)
            + element("SearchClause", search_clause)
            + "</getRequest>"
        )
        response = self._checked("GetData", body)
        return DataPage(read_csv(response.detail), response.total_count, page_no, items_per_page)

    def iter_data(
        self, template: str, search_clause: str = "", items_per_page: int = MAX_ITEMS_PER_PAGE
    ) -> Iterator[dict[str, str]]:
        yield from _pages(lambda n: self.get_data(template, search_clause, n, items_per_page))

    def get_report_data(
        self,
        template: str,
        search_clause: str = "",
        columns: Sequence[str] | str = (),
        order_by: str = "",
        filter_clause: str = "",
        page_no: int = 1,
        items_per_page: int = MAX_ITEMS_PER_PAGE,
    ) -> DataPage:
        """`columns` are labels (``Item code``) or an already bracketed ``[A],[B]`` string."""
        items_per_page = min(items_per_page, MAX_ITEMS_PER_PAGE)
        column_text = columns if isinstance(columns, str) else ",".join(f"[{c}]" for c in columns)
        body = (
            "<getReportRequest>"
            + element("TemplateName", template)
            + element("PageNo", page_no)
            + element("ItemsPerPage", items_per_page)
            + element("SearchClause", search_clause)
            + element("FilterClause", filter_clause)
            + element("OrderBy", order_by)
            + element("Columns", column_text)
            + "</getReportRequest>"
        )
        response = self._checked("GetReportData", body)
        return DataPage(read_csv(response.detail), response.total_count, page_no, items_per_page)

    def iter_report_data(
        self,
        template: str,
        search_clause: str = "",
        columns: Sequence[str] | str = (),
        order_by: str = "",
        filter_clause: str = "",
        items_per_page: int = MAX_ITEMS_PER_PAGE,
        max_pages: int | None = None,
    ) -> Iterator[dict[str, str]]:
        """`max_pages`: raise `ReportLongerThanAsked` (before any row) if the first page announces
        more pages than that, for a caller with a cheaper way to read what it wants."""
        yield from _pages(
            lambda n: self.get_report_data(
                template, search_clause, columns, order_by, filter_clause, n, items_per_page
            ),
            whole=not search_clause and not filter_clause,
            max_pages=max_pages,
        )

    def iter_models(self, model: type[M], search_clause: str = "", **kwargs: Any) -> Iterator[M]:
        """Typed rows of a template or report (`SalesOrder`, `DespatchSummaryRow`, …)."""
        rows = (
            self.iter_report_data(model.TEMPLATE, search_clause, **kwargs)
            if model.IS_REPORT
            else self.iter_data(model.TEMPLATE, search_clause, **kwargs)
        )
        for row in rows:
            yield model.model_validate(row)

    def get_report_columns(self, template: str) -> list[str]:
        return read_header(self._checked("GetReportColumns", element("templateName", template)).detail)

    def get_save_template(self, template: str) -> list[str]:
        return read_header(self._checked("GetSaveTemplate", element("templateName", template)).detail)

    def _checked(self, operation: str, body: str) -> IntegrationResponse:
        response = self._call(operation, body)
        if not response.ok:
            raise PeoplevoxError(f"{operation}: {response.detail}", response.detail)
        return response

    # -- SaveData ---------------------------------------------------------------------------
    def save_data(
        self,
        template: str,
        rows: Sequence[Mapping[str, Any] | PvxRow],
        action: SaveAction | int = SaveAction.INSERT_OR_UPDATE,
    ) -> SaveResult:
        """One SaveData request; results come back in the order of `rows`, one per record.

        Every row must have the same columns (a missing column would be sent blank and
        overwrite data). Models send only their set fields.
        """
        dicts = [r.to_row() if isinstance(r, PvxRow) else dict(r) for r in rows]
        if not dicts:
            return SaveResult(template, 0, [])
        columns = list(dicts[0])
        csv_data = write_csv(columns, dicts)
        body = (
            "<saveRequest>"
            + element("TemplateName", template)
            + element("CsvData", csv_data)
            + element("Action", int(action))
            + "</saveRequest>"
        )
        response = self._call("SaveData", body, save_records=list(rows))
        if response.statuses is None and not response.ok and response.total_count == 0:
            # Nothing saved and no per-row answer: the request itself was refused.
            raise PeoplevoxError(f"SaveData '{template}': {response.detail}", response.detail)
        paired = pair_by_position(template, rows, dicts, response)
        if isinstance(paired, SaveResult):
            return paired
        log.warning(
            "peoplevox: SaveData '%s' answer not in the expected shape (%s); looking the %d rows up",
            template,
            paired,
            len(rows),
        )
        try:
            looked_up = confirm_by_lookup(
                template, rows, dicts, response, int(action), self.iter_data, paired
            )
        except PeoplevoxError as exc:
            raise SaveOutcomeUnknown(template, rows, f"{paired}; the lookup failed: {exc}") from None
        if looked_up is None:
            raise SaveOutcomeUnknown(template, rows, f"{paired}; template key unknown, cannot look up")
        return looked_up

    def save_in_batches(
        self,
        template: str,
        rows: Sequence[Mapping[str, Any] | PvxRow],
        batch_size: int = 100,
        action: SaveAction | int = SaveAction.INSERT_OR_UPDATE,
    ) -> SaveResult:
        """Several SaveData calls of `batch_size` rows; merged result. Stops at the first unknown outcome."""
        merged = SaveResult(template, 0, [])
        for start in range(0, len(rows), batch_size):
            result = self.save_data(template, rows[start : start + batch_size], action)
            merged.saved_count += result.saved_count
            merged.rows.extend(result.rows)
            merged.detail = "\n".join(filter(None, [merged.detail, result.detail]))
        return merged

    # -- events -----------------------------------------------------------------------------
    def subscribe_event(self, event_type: str, callback_url: str, filter_clause: str = "") -> int:
        body = (
            element("eventType", event_type)
            + element("filter", filter_clause)
            + element("callbackUrl", callback_url)
        )
        return int(self._checked("SubscribeEvent", body).detail.strip())

    def subscribe_post_event(
        self, event_type: str, post_url: str, post_params: str, filter_clause: str = ""
    ) -> int:
        body = (
            element("eventType", event_type)
            + element("filter", filter_clause)
            + element("postUrl", post_url)
            + element("postParams", post_params)
        )
        return int(self._checked("SubscribePostEvent", body).detail.strip())

    def unsubscribe_event(self, subscription_id: int) -> None:
        self._checked("UnsubscribeEvent", element("subscriptionId", int(subscription_id)))


def _is_session_error(response: IntegrationResponse) -> bool:
    """The service refused the request for its session (never a partial save whose row quotes
    such text: answers.whole_request_message)."""
    message = whole_request_message(response)
    return message is not None and any(text in message for text in SESSION_ERRORS)


def _template_of(body: str) -> str:
    match = re.search(r"<TemplateName>(.*?)</TemplateName>", body)
    return match.group(1) if match else "?"


def _pages(
    fetch: Callable[[int], DataPage], whole: bool = False, max_pages: int | None = None
) -> Iterator[dict[str, str]]:
    """Every row, page after page. `whole`: the read is a whole report (no search or filter clause:
    the stock flow's full inventory read), where a missing row reads as an item gone: a page that
    comes back empty before the total its first page gave means the read was cut short (a
    maintenance window opening mid-read answers no rows and a total of 0, as if nothing were
    wrong), and a page announcing fewer rows than the first means rows left the report while it
    was paged (an item type deleted): every later row moved back, and the rows that crossed a page
    boundary already read were skipped (`ReportChangedDuringRead`; the caller reads it again).
    More rows than announced only repeat a row at a boundary, which is harmless.
    A filtered read may legitimately shrink while it is paged (orders leaving a status), so it
    stops at the first empty page as before."""
    page_no, seen, promised = 1, 0, None
    while True:
        page = fetch(page_no)
        if promised is None:
            promised = page.total_count
            if max_pages is not None and promised > max_pages * max(page.items_per_page, 1):
                raise ReportLongerThanAsked(promised, max_pages)
        elif whole and page.rows and page.total_count < promised:
            raise ReportChangedDuringRead(
                f"a whole report fell from {promised:,} to {page.total_count:,} rows while it was read "
                f"(at page {page_no}): later rows moved back and some were skipped; read it again"
            )
        yield from page.rows
        seen += len(page.rows)
        if not page.rows and whole and seen < promised:
            raise PeoplevoxError(
                f"page {page_no} of a whole report came back empty after {seen:,} of the {promised:,} rows "
                "its first page announced: the read was cut short (a maintenance window?); try again"
            )
        if not page.rows or seen >= page.total_count:
            return
        page_no += 1
