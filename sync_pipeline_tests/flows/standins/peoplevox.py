"""Peoplevox in memory, behind the orders flow's real port (`PeoplevoxWarehouse`).

The port talks to `InMemoryPeoplevoxClient`, which has the real client's public calls
(`save_data`, `iter_data`) but no HTTP: rows go through the real client's CSV writer and XML
escaping (so text Peoplevox could never receive is refused as it would be), then through the
Peoplevox sandbox's own Integration Service and warehouse model in this process. So a save is
applied row by row exactly as the sandbox applies it (good rows saved, bad rows refused with
their text), and everything a real tenant refuses in the sandbox is refused here: unknown item
types, sites and service types, line changes once an order is allocated, header changes and
cancellations past the warehouse's cut-off, a new order imported with a status.

Knobs for what a real tenant may do besides: refuse a whole request (a SOAP fault such as
"String or binary data would be truncated"), apply a save and lose its answer, accept
`Status=Cancelled` and do nothing; and the sandbox's own tenant settings (refuse
`Status=Cancelled`, report statuses the flow has never heard of) work here as there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.peoplevox import DataPage, PeoplevoxFault, RowResult, SaveOutcomeUnknown, SaveResult
from sync_pipeline.lib.peoplevox.csv_io import read_csv, write_csv
from sync_pipeline.lib.peoplevox.errors import PeoplevoxError
from sync_pipeline.lib.peoplevox.soap import element
from sync_pipeline.sandbox.peoplevox.clock import SimClock
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.peoplevox.service import IntegrationService
from sync_pipeline.sandbox.peoplevox.state import SandboxState
from sync_pipeline.sandbox.peoplevox.warehouse import (
    CANCELLED,
    DEFAULT_SERVICE_TYPES,
    SALES_ORDER_STATUS_CHANGES,
)


class InMemoryPeoplevoxClient:
    """`PeoplevoxClient`'s `save_data`, `iter_data` and `get_report_data`, served by the sandbox
    service in process."""

    def __init__(self, owner: InMemoryPeoplevox) -> None:
        self.owner = owner
        self.service = IntegrationService(owner.state)

    def save_data(self, template: str, rows: Sequence[Mapping[str, Any]], action: int = 0) -> SaveResult:
        owner = self.owner
        hooks, owner.before_next_save = owner.before_next_save, []
        for hook in hooks:
            hook()  # something happens elsewhere while this request is on its way
        dicts = [dict(r) for r in rows]
        columns = list(dicts[0])
        csv_data = write_csv(columns, dicts)
        element("CsvData", csv_data)  # the real client's XML escaping refuses what XML cannot carry
        owner.save_calls += 1
        owner.requests[f"SaveData {template}"] += 1
        numbers = {d.get("SalesOrderNumber", "") for d in dicts}
        faulted = numbers & owner.fault_numbers
        if faulted:
            message = f"String or binary data would be truncated (sales order {sorted(faulted)[0]})"
            raise PeoplevoxFault(f"SaveData: SOAP fault soap:Client: {message}", message)
        if template == "Sales orders" and "Status" in columns and owner.ignore_cancel:
            return SaveResult(
                template, len(dicts), [RowResult(d, d["SalesOrderNumber"], True) for d in dicts]
            )
        answer = self.service.save_data({"TemplateName": template, "CsvData": csv_data, "Action": action})
        hooks, owner.after_next_save = owner.after_next_save, []
        for hook in hooks:
            hook()  # applied, and the caller dies (or waits) before it hears the answer
        if owner.instant_allocation:
            owner.warehouse.settings.allocation_delay = 0
            owner.warehouse.advance(0)
        if owner.lose_answers.get(template, 0):
            owner.lose_answers[template] -= 1
            raise SaveOutcomeUnknown(template, rows, "connection dropped after the save")
        if answer.statuses is None:
            raise PeoplevoxError(f"SaveData '{template}': {answer.detail}", answer.detail or "")
        errors = {}
        for line in (answer.detail or "").splitlines():
            head, _, message = line.partition(": ")
            errors[int(head.split()[1])] = message
        return SaveResult(
            template,
            answer.total_count,
            [
                RowResult(d, reference, status == "Success", errors.get(n))
                for n, (d, (reference, status)) in enumerate(zip(dicts, answer.statuses, strict=True), 1)
            ],
            answer.detail or "",
        )

    def iter_data(
        self, template: str, search_clause: str = "", items_per_page: int = 1000
    ) -> Iterator[dict[str, str]]:
        element("SearchClause", search_clause)
        page = 1
        while True:
            self.owner.requests[f"GetData {template}"] += 1
            answer = self.service.get_data(
                {
                    "TemplateName": template,
                    "SearchClause": search_clause,
                    "PageNo": page,
                    "ItemsPerPage": items_per_page,
                }
            )
            if answer.response_id != 0:
                raise PeoplevoxError(f"GetData '{template}': {answer.detail}", answer.detail or "")
            rows = read_csv(answer.detail or "")
            yield from rows
            if not rows or page * items_per_page >= answer.total_count:
                return
            page += 1

    def get_report_data(
        self,
        template: str,
        search_clause: str = "",
        columns: Sequence[str] | str = (),
        order_by: str = "",
        filter_clause: str = "",
        page_no: int = 1,
        items_per_page: int = 1000,
    ) -> DataPage:
        element("SearchClause", search_clause)
        for hook in self.owner.before_page.pop(page_no, []):
            hook()  # the warehouse moves on between two pages of one read
        self.owner.requests[f"GetReportData {template}"] += 1
        answer = self.service.get_report_data(
            {
                "TemplateName": template,
                "SearchClause": search_clause,
                "FilterClause": filter_clause,
                "OrderBy": order_by,
                "Columns": columns if isinstance(columns, str) else ",".join(f"[{c}]" for c in columns),
                "PageNo": page_no,
                "ItemsPerPage": items_per_page,
            }
        )
        if answer.response_id != 0:
            raise PeoplevoxError(f"GetReportData '{template}': {answer.detail}", answer.detail or "")
        return DataPage(read_csv(answer.detail or ""), answer.total_count, page_no, items_per_page)


class InMemoryPeoplevox(PeoplevoxWarehouse):
    """The real port over an in-memory Peoplevox; `warehouse` is the sandbox's warehouse floor."""

    def __init__(
        self,
        item_codes: Sequence[str],
        start: datetime,
        inbox: Inbox | None = None,
        service_types: Sequence[str] = ("Standard", "Express"),
    ) -> None:
        self.state = SandboxState(PeoplevoxSandboxConfig(sites=("PrimarySite", "Wholesale")))
        self.state.clock = self.warehouse_clock = SimClock(start)
        self.warehouse = self.state.warehouse
        self.warehouse.clock = self.warehouse_clock
        # A tenant without the Pallet service refuses every order routed to it (a refused header).
        self.warehouse.settings.service_types = tuple(
            s for s in DEFAULT_SERVICE_TYPES if s.name in service_types
        )
        self.warehouse.set_emitter(self._emit)
        for n, code in enumerate(item_codes):
            self.warehouse.upsert_item(code, f"50{n:011d}", code)
            for site in ("PrimarySite", "Wholesale"):
                self.warehouse.set_stock(code, site, 100_000)
        self.inbox = inbox
        self.drop_callbacks = False
        self.fault_numbers: set[str] = set()
        self.lose_answers: dict[str, int] = {}  # template → how many next saves lose their answer
        # A tenant that answers Success to Status=Cancelled and does nothing. The sandbox's own
        # settings cover the rest: `warehouse.settings.cancel_by_import = False` (only people
        # cancel) and `warehouse.settings.reported_statuses` (names the flow never heard of).
        self.ignore_cancel = False
        self.save_calls = 0
        self.before_next_save: list[Callable[[], None]] = []
        self.before_page: dict[int, list[Callable[[], None]]] = {}  # report page number → hooks
        self.requests: Counter[str] = Counter()  # "<operation> <template>" → requests, pages apiece
        self.after_next_save: list[Callable[[], None]] = []
        # Allocate as soon as an order has lines (a faster floor than the sandbox's 300 s).
        self.instant_allocation = False
        super().__init__(InMemoryPeoplevoxClient(self))  # type: ignore[arg-type]

    def _emit(self, event_type: str, values: dict[str, str]) -> None:
        if event_type != SALES_ORDER_STATUS_CHANGES or self.inbox is None or self.drop_callbacks:
            return
        params = {"number": values["SalesOrderNumber"], "modified": values["LastModificationTime"]}
        self.inbox.write("peoplevox", {"event": event_type, "params": params})

    # -- the warehouse floor and people in it ------------------------------------------------
    def holds(self) -> dict[str, tuple[str, dict[str, int]]]:
        """Every sales order: (status, quantity per item code)."""
        held: dict[str, tuple[str, dict[str, int]]] = {}
        for number, order in self.warehouse.orders.items():
            quantities: dict[str, int] = {}
            for line in order.lines.values():
                quantities[line.item_code] = quantities.get(line.item_code, 0) + line.quantity_ordered
            held[number] = (order.status, quantities)
        return held

    def header(self, number: str) -> dict[str, Any]:
        order = self.warehouse.orders[number]
        return {**order.fields, "Site": order.site, "ServiceType": order.service_type}

    def progress(self, number: str, status: str) -> None:
        """The floor moves the order on (Allocated, Picking, Packed, Despatched) or cancels it."""
        self.warehouse.force_status(number, status)

    def cancel_by_hand(self, number: str) -> None:
        self.warehouse.force_status(number, CANCELLED)
