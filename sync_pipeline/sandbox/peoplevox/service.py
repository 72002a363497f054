"""The Integration Service operations, behind the SOAP codec and in front of the warehouse.

Order of checks for every request: the limiter (every request counts, Authenticate too; a
refusal raises `RateLimited`, which the endpoint answers in the configured shape), then the
credentials or session, then the operation. Business errors are answered the Peoplevox
way: HTTP 200, ResponseId -1, the message in Detail.

SaveData assumptions: ``Statuses`` has one entry per CSV data row, in order, ``Reference``
being the row's key columns joined by ``/``. On any row error ResponseId is -1, TotalCount is
the number of rows saved and Detail has one line per failed row: ``Row {n} ({reference}): {message}``.
Good rows are saved even when others fail. A header naming an unknown column, a missing key
column or unreadable CSV fails the whole request and nothing is saved. The setting
`save_result_shape` answers the same facts in another shape (`_shaped`), because the real
one is assumed.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
from typing import Any

from sync_pipeline.sandbox.peoplevox.clause_parser import ClauseError, Column, compile_clause, parse_order_by
from sync_pipeline.sandbox.peoplevox.config import SaveResultShape
from sync_pipeline.sandbox.peoplevox.events import EVENT_TYPES
from sync_pipeline.sandbox.peoplevox.limiter import RateLimited
from sync_pipeline.sandbox.peoplevox.reports import INVENTORY_REPORT, Row, find_report
from sync_pipeline.sandbox.peoplevox.sessions import INVALID_CREDENTIALS, INVALID_SESSION
from sync_pipeline.sandbox.peoplevox.soap import SERVER_TIMEOUT, IntegrationResult, SoapFault, SoapRequest
from sync_pipeline.sandbox.peoplevox.state import SandboxState
from sync_pipeline.sandbox.peoplevox.stock_moves import feed_rows
from sync_pipeline.sandbox.peoplevox.templates import Template, find_template
from sync_pipeline.sandbox.peoplevox.values import ValueProblem, format_value, parse_value
from sync_pipeline.sandbox.peoplevox.warehouse import WarehouseError

MAX_PAGE = 1000


def write_csv(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


class IntegrationService:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def handle(self, path_client_id: str, request: SoapRequest) -> IntegrationResult:
        state = self.state
        state.counters.add("requests", request.operation)
        state.counters.add("requests_by_name", request_name(request))
        wait = state.limiter.try_acquire(path_client_id)
        if wait is not None:
            state.counters.refused()
            raise RateLimited(wait, state.limiter.refusal_detail(wait))
        params = request.params
        if request.operation == "Authenticate":
            return self.authenticate(path_client_id, params)
        creds = request.credentials
        if creds is None or creds.get("ClientId") != path_client_id or not creds.get("SessionId"):
            return IntegrationResult.error(INVALID_SESSION)
        problem = state.sessions.check(path_client_id, creds["SessionId"])
        if problem is not None:
            return IntegrationResult.error(problem)
        handler = getattr(self, _snake(request.operation))
        return handler(params)

    # -- Authenticate -----------------------------------------------------------------------
    def authenticate(self, path_client_id: str, params: dict[str, Any]) -> IntegrationResult:
        config = self.state.config
        try:
            password = base64.b64decode(params.get("password") or "", validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            password = None
        if (
            params.get("clientId") != config.client_id
            or path_client_id != config.client_id
            or params.get("username") != config.username
            or password != config.password
        ):
            return IntegrationResult.error(INVALID_CREDENTIALS)
        session_id = self.state.sessions.create(config.client_id)
        return IntegrationResult(0, 0, f"{config.client_id},{session_id}")

    # -- reads ------------------------------------------------------------------------------
    def get_data(self, params: dict[str, Any]) -> IntegrationResult:
        template = find_template(params.get("TemplateName") or "")
        if template is None:
            return IntegrationResult.error(f"Template '{params.get('TemplateName')}' does not exist")
        try:
            predicate = compile_clause(
                params.get("SearchClause") or "", list(template.columns), bracketed=False
            )
        except ClauseError as exc:
            return IntegrationResult.error(f"Invalid search clause: {exc}")
        warehouse = self.state.warehouse
        with warehouse.lock:
            rows = [row for row in template.rows(warehouse) if predicate(row)]
        page = _page(rows, params)
        if isinstance(page, IntegrationResult):
            return page
        names = [c.name for c in template.columns]
        body = [[format_value(row.get(name)) for name in names] for row in page]
        return IntegrationResult(0, len(rows), write_csv(names, body))

    def get_report_data(self, params: dict[str, Any]) -> IntegrationResult:
        report = find_report(params.get("TemplateName") or "")
        if report is None:
            return IntegrationResult.error(f"Report '{params.get('TemplateName')}' does not exist")
        columns = list(report.columns)
        try:
            search = compile_clause(params.get("SearchClause") or "", columns, bracketed=True)
            filter_ = compile_clause(params.get("FilterClause") or "", columns, bracketed=True)
            order_by = parse_order_by(params.get("OrderBy") or "", columns)
            selected = _select_columns(params.get("Columns") or "", columns)
        except ClauseError as exc:
            return IntegrationResult.error(f"Invalid report request: {exc}")
        warehouse = self.state.warehouse
        undated = set(self.state.faults.undated_packages)
        with warehouse.lock:
            rows = [_undate(r, undated) for r in report.rows(warehouse)]
        if report.name == INVENTORY_REPORT and self.state.faults.inventory_feed != "normal":
            self.state.counters.add("faults_injected", f"inventory_feed_{self.state.faults.inventory_feed}")
            rows = feed_rows(rows, self.state.faults.inventory_feed)
        rows = [row for row in rows if search(row) and filter_(row)]
        for name, descending in reversed(order_by):
            rows.sort(key=lambda row, n=name: _sort_key(row.get(n)), reverse=descending)
        page = _page(rows, params)
        if isinstance(page, IntegrationResult):
            return page
        body = [[format_value(row.get(name), report=True) for name in selected] for row in page]
        return IntegrationResult(0, len(rows), write_csv(selected, body))

    def get_report_columns(self, params: dict[str, Any]) -> IntegrationResult:
        report = find_report(params.get("templateName") or "")
        if report is None:
            return IntegrationResult.error(f"Report '{params.get('templateName')}' does not exist")
        names = [c.name for c in report.columns]
        return IntegrationResult(0, len(names), write_csv(names, []).rstrip("\r\n"))

    def get_save_template(self, params: dict[str, Any]) -> IntegrationResult:
        template = find_template(params.get("templateName") or "")
        if template is None or template.save is None:
            return IntegrationResult.error(
                f"Template '{params.get('templateName')}' cannot be used for importing"
            )
        names = [c.name for c in template.columns]
        return IntegrationResult(0, len(names), write_csv(names, []).rstrip("\r\n"))

    # -- SaveData ---------------------------------------------------------------------------
    def save_data(self, params: dict[str, Any]) -> IntegrationResult:
        name = params.get("TemplateName") or ""
        template = find_template(name)
        if template is None or template.save is None:
            return IntegrationResult.error(f"Template '{name}' cannot be used for importing")
        action = params["Action"]
        if action not in (0, 1, 2):
            return IntegrationResult.error(f"Action {action} is not valid; use 0, 1 or 2")
        try:
            records = list(csv.reader(io.StringIO(params.get("CsvData") or "", newline=""), strict=True))
        except csv.Error as exc:
            return IntegrationResult.error(f"CSV data could not be read: {exc}")
        records = [r for r in records if r]
        if not records:
            return IntegrationResult.error("CSV data is empty; a header row is required")
        header = _resolve_header(template, records[0])
        if isinstance(header, IntegrationResult):
            return header
        counters = self.state.counters
        counters.add("save_calls", template.name)
        data = records[1:]
        # Fault injection: a server error part-way through the import (rows saved so far stay).
        fails_midway = self.state.take_fault("server_fault_after_save_next")
        if fails_midway:
            data = data[: (len(data) + 1) // 2]
        statuses: list[tuple[str, str]] = []
        errors: list[tuple[int, str, str]] = []
        saved = 0
        for number, values in enumerate(data, start=1):
            raw = dict(zip([c.name for c in header], values, strict=False))
            reference = "/".join(raw.get(k, "") for k in template.key)
            try:
                self._save_row(template, header, values, action)
            except (WarehouseError, ValueProblem) as exc:
                statuses.append((reference, "Error"))
                errors.append((number, reference, str(exc)))
                continue
            statuses.append((reference, "Success"))
            saved += 1
        counters.add("save_rows", template.name, len(statuses))
        counters.add("save_rows_failed", template.name, len(errors))
        if fails_midway:
            raise SoapFault(SERVER_TIMEOUT, "soap:Server")
        return _shaped(self.state.save_result_shape, saved, statuses, errors)

    def _save_row(self, template: Template, header: list[Column], values: list[str], action: int) -> None:
        if len(values) != len(header):
            raise WarehouseError(f"the row has {len(values)} values; the header has {len(header)}")
        row = {c.name: parse_value(c.name, c.type, v) for c, v in zip(header, values, strict=True)}
        for key in template.key:
            if not row.get(key):
                raise WarehouseError(f"{key} is required")
        assert template.save is not None
        warehouse = self.state.warehouse
        with warehouse.lock:
            template.save(warehouse, row, action)

    # -- events -----------------------------------------------------------------------------
    def subscribe_event(self, params: dict[str, Any]) -> IntegrationResult:
        return self._subscribe(params, params.get("callbackUrl"), None)

    def subscribe_post_event(self, params: dict[str, Any]) -> IntegrationResult:
        return self._subscribe(params, params.get("postUrl"), params.get("postParams") or "")

    def _subscribe(
        self, params: dict[str, Any], url: str | None, post_params: str | None
    ) -> IntegrationResult:
        event_type = params.get("eventType") or ""
        if event_type not in EVENT_TYPES:
            return IntegrationResult.error(f"Event type '{event_type}' is not valid")
        if not url or not re.match(r"https?://[^\s/]+", url):
            return IntegrationResult.error("A callback URL starting http:// or https:// is required")
        subscription_id = self.state.events.subscribe(
            event_type, params.get("filter") or "", url, post_params
        )
        return IntegrationResult(0, 1, str(subscription_id))

    def unsubscribe_event(self, params: dict[str, Any]) -> IntegrationResult:
        subscription_id = params["subscriptionId"]
        if not self.state.events.unsubscribe(subscription_id):
            return IntegrationResult.error(f"Subscription {subscription_id} does not exist")
        return IntegrationResult(0, 1, "True")


def _shaped(
    shape: SaveResultShape,
    saved: int,
    statuses: list[tuple[str, str]],
    errors: list[tuple[int, str, str]],
) -> IntegrationResult:
    """A SaveData answer in the expected shape, or (setting `save_result_shape`) another one a
    real tenant might use; the facts (what was saved) are the same whatever the shape."""
    response_id = -1 if errors else 0
    lines = [f"Row {n} ({reference}): {message}" for n, reference, message in errors]
    if shape == "other_detail":
        lines = [f"Error importing '{reference}' - {message}" for _, reference, message in errors]
    detail = "\n".join(lines)
    if shape == "no_statuses":
        return IntegrationResult(response_id, saved, detail, None)
    if shape == "no_references":
        statuses = [("", status) for _, status in statuses]
    if shape == "errors_only":
        statuses = [(reference, status) for reference, status in statuses if status != "Success"]
    return IntegrationResult(response_id, saved, detail, statuses)


def request_name(request: SoapRequest) -> str:
    """The operation and the template or report it names (GetReportColumns and GetSaveTemplate
    spell the parameter `templateName`), e.g. "GetReportData Despatch summary"."""
    params = request.params
    name = str(params.get("TemplateName") or params.get("templateName") or "").strip()
    return f"{request.operation} {name}" if name else request.operation


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _page(rows: list[Any], params: dict[str, Any]) -> list[Any] | IntegrationResult:
    page_no, per_page = params["PageNo"], params["ItemsPerPage"]
    if page_no < 1:
        return IntegrationResult.error("PageNo must be 1 or more")
    if per_page < 0:
        return IntegrationResult.error("ItemsPerPage must be 0 or more")
    if per_page == 0:
        return rows
    per_page = min(per_page, MAX_PAGE)
    return rows[(page_no - 1) * per_page : page_no * per_page]


def _select_columns(text: str, columns: list[Column]) -> list[str]:
    known = {c.name.lower(): c.name for c in columns}
    if not text.strip():
        return [c.name for c in columns]
    if not re.fullmatch(r"\s*\[[^\[\]]+\](\s*,\s*\[[^\[\]]+\])*\s*", text):
        raise ClauseError(f"Invalid Columns list '{text}'; write [Label],[Label]")
    selected = []
    for label in re.findall(r"\[([^\[\]]+)\]", text):
        name = known.get(label.strip().lower())
        if name is None:
            raise ClauseError(f"Column '{label}' does not exist in this report")
        selected.append(name)
    return selected


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)


def _resolve_header(template: Template, names: list[str]) -> list[Column] | IntegrationResult:
    header: list[Column] = []
    for name in names:
        column = template.column(name)
        if column is None:
            return IntegrationResult.error(f"Column '{name}' does not exist in template '{template.name}'")
        if column in header:
            return IntegrationResult.error(f"Column '{column.name}' appears twice")
        header.append(column)
    missing = [k for k in template.key if all(c.name != k for c in header)]
    if missing:
        return IntegrationResult.error(f"Key column(s) missing: {', '.join(missing)}")
    return header


def _undate(row: Row, undated: set[str]) -> Row:
    """The `undated_packages` fault: the row's Despatch date blank."""
    if undated and row.get("Despatch number") in undated:
        return {**row, "Despatch date": None}
    return row
