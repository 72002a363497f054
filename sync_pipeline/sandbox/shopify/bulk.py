"""Bulk query operations: `bulkOperationRunQuery`, polling, cancel, the JSONL file and its webhook.

An operation is CREATED, then RUNNING in a background thread that reads the root connection a
page at a time (bulk_export.py) and appends the lines to a JSONL file; then COMPLETED (with
`url`, `objectCount`, `rootObjectCount`, `fileSize`, `completedAt`), FAILED (with `errorCode`
and, when some lines were written, `partialDataUrl`), or CANCELING → CANCELED. When it ends, the
`bulk_operations/finish` webhook is sent. The file is served at an unguessable URL with no auth,
as Shopify's signed storage URLs are, and stops being served (HTTP 403) once it expires.

Assumptions, stricter where the documentation leaves room:
- Concurrency: the guide allows five bulk queries per shop from 2026-01, but the 2026-07 schema
  describes "one bulk query operation and one bulk mutation operation at a time per shop". The
  sandbox serves the stricter one for every version: a second `bulkOperationRunQuery` while one
  is CREATED, RUNNING or CANCELING gets the user error OPERATION_IN_PROGRESS and no operation.
  (`bulk_concurrency` raises the limit.)
- Bulk operations do not draw on the query-cost bucket: the mutation that starts one costs 10
  like any mutation and a poll costs what its selection costs; the export itself costs nothing.
- A search term the bulk query's connection does not know is ignored, as in a paginated read,
  but nothing reports it (a bulk result has no `extensions`): the client checks its search
  with a paginated read first.
- URLs expire after `bulk_url_ttl_seconds` (7 days, documented); the status then reads EXPIRED.
- The export runs at `bulk_objects_per_second` (unlimited by default) and a fault setting can
  fail the next operations part way, with Shopify's error codes.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, parse

from .bulk_export import BulkExport
from .bulk_rules import bulk_query_errors
from .errors import validation_errors
from .ids import gid, parse_gid
from .model import iso
from .schema import load_schema

if TYPE_CHECKING:
    from .state import SandboxState

ACTIVE = ("CREATED", "RUNNING", "CANCELING")
IN_PROGRESS = "A bulk query operation for this app and shop is already in progress: {id}."


@dataclass
class BulkOperation:
    id: int
    query: str
    grouped: bool
    version: str
    created_at: datetime
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    status: str = "CREATED"
    error_code: str | None = None
    completed_at: datetime | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    has_file: bool = False
    cancel_requested: bool = False
    expires_at: float | None = None


class BulkOperations:
    """Every bulk operation of the (single) app, its worker threads and result files."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.ops: dict[int, BulkOperation] = {}
        self.lock = threading.Lock()
        self.files = Path(tempfile.mkdtemp(prefix="shopify-bulk-"))
        self.base_url = ""  # set from the first request: where the files are served
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()

    # ----- lifecycle --------------------------------------------------------------------------
    def start(
        self, query: str, grouped: bool, version: str
    ) -> tuple[BulkOperation | None, list[dict[str, Any]]]:
        schema = load_schema(version)
        try:
            document = parse(query)
        except GraphQLError as exc:
            return None, [_user_error(f"Invalid bulk query: {exc.message}")]
        invalid = [e["message"] for e in validation_errors(schema, document)]
        if invalid:
            return None, [_user_error(m) for m in invalid]
        refused = bulk_query_errors(schema, document)
        if refused:
            return None, [_user_error(m) for m in refused]
        with self.lock:
            self._expire()
            running = [op for op in self.ops.values() if op.status in ACTIVE]
            if len(running) >= self.state.config.bulk_concurrency:
                message = IN_PROGRESS.format(id=gid("BulkOperation", running[0].id))
                return None, [_user_error(message, "OPERATION_IN_PROGRESS")]
            op = BulkOperation(self.state.store.ids.next(), query, grouped, version, datetime.now(UTC))
            self.ops[op.id] = op
        thread = threading.Thread(target=self._run, args=(op,), name=f"shopify-bulk-{op.id}", daemon=True)
        self._threads.append(thread)
        thread.start()
        self.state.stats["bulk_operations"] += 1
        return op, []

    def cancel(self, op_id: str) -> tuple[BulkOperation | None, list[dict[str, Any]]]:
        with self.lock:
            op = self.ops.get(parse_gid(op_id, "BulkOperation") or -1)
            if op is None:
                return None, [{"field": ["id"], "message": "Bulk operation does not exist"}]
            if op.status not in ("CREATED", "RUNNING"):
                message = f"A bulk operation cannot be canceled when it is {op.status.lower()}"
                return op, [{"field": ["id"], "message": message}]
            op.status, op.cancel_requested = "CANCELING", True
            return op, []

    def get(self, op_id: str) -> BulkOperation | None:
        with self.lock:
            self._expire()
            return self.ops.get(parse_gid(op_id, "BulkOperation") or -1)

    def current(self) -> BulkOperation | None:
        with self.lock:
            self._expire()
            return max(self.ops.values(), key=lambda o: o.id, default=None)

    def path(self, op: BulkOperation) -> Path:
        return self.files / f"{op.id}.jsonl"

    def servable(self, op_id: int, token: str) -> Path | None:
        """The result file for a URL, or None when the URL is wrong or expired."""
        with self.lock:
            self._expire()
            op = self.ops.get(op_id)
            if op is None or op.status == "EXPIRED" or not op.has_file:
                return None
            return self.path(op) if secrets.compare_digest(op.token, token) else None

    def close(self) -> None:
        self._stopped.set()
        for thread in self._threads:
            thread.join(timeout=5)
        shutil.rmtree(self.files, ignore_errors=True)

    def _expire(self) -> None:
        now = time.monotonic()
        for op in self.ops.values():
            if op.expires_at is not None and now >= op.expires_at and op.status in ("COMPLETED", "FAILED"):
                op.status = "EXPIRED"

    # ----- the export -------------------------------------------------------------------------
    def _run(self, op: BulkOperation) -> None:
        state, config = self.state, self.state.config
        export = BulkExport(load_schema(op.version), op.query)
        context: dict[str, Any] = {"config": config, "state": state}
        faults = config.faults
        fail_after: int | None = None
        with self.lock:
            if faults.bulk_fail_next > 0:
                faults.bulk_fail_next -= 1
                fail_after = faults.bulk_fail_after_roots
            op.status = "RUNNING"
        started = time.monotonic()
        cursor: str | None = None
        outcome: tuple[str, str | None] = ("COMPLETED", None)
        with self.path(op).open("w", encoding="utf-8") as out:
            while True:
                if op.cancel_requested or self._stopped.is_set():
                    outcome = ("CANCELED", None)
                    break
                if fail_after is not None and op.root_object_count >= fail_after:
                    outcome = ("FAILED", faults.bulk_fail_code)
                    break
                page_started = time.monotonic()
                try:
                    with state.store.lock:
                        page = export.page(state.root, context, cursor, op.grouped)
                except Exception:  # any failure of the export is the operation's FAILED
                    outcome = ("FAILED", "INTERNAL_SERVER_ERROR")
                    break
                for line in page.lines:
                    out.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
                out.flush()
                with self.lock:
                    op.object_count += len(page.lines)
                    op.root_object_count += page.roots
                    op.has_file = op.object_count > 0
                state.stats["bulk_objects"] += len(page.lines)
                if fail_after is not None and op.root_object_count >= fail_after:
                    outcome = ("FAILED", faults.bulk_fail_code)
                    break
                rate = config.bulk_objects_per_second
                # Shopify exports on its own machines; here the export shares one interpreter with
                # the Admin API, so it rests a quarter of its working time for live requests.
                self._pause(op, time.monotonic() + (time.monotonic() - page_started) / 4)
                if rate:
                    self._pause(op, started + op.object_count / rate)
                if op.cancel_requested:  # asked while this page was written: it does not complete
                    outcome = ("CANCELED", None)
                    break
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
        self._finish(op, *outcome)

    def _pause(self, op: BulkOperation, until: float) -> None:
        """Keep to the configured export pace, but notice a cancel or shutdown at once."""
        while time.monotonic() < until and not op.cancel_requested:
            if self._stopped.wait(min(0.05, until - time.monotonic())):
                return

    def _finish(self, op: BulkOperation, status: str, error_code: str | None = None) -> None:
        with self.lock:
            op.status, op.error_code = status, error_code
            op.completed_at = datetime.now(UTC)
            op.file_size = self.path(op).stat().st_size if op.has_file else None
            op.expires_at = time.monotonic() + self.state.config.bulk_url_ttl_seconds
        payload = {
            "admin_graphql_api_id": gid("BulkOperation", op.id),
            "completed_at": iso(op.completed_at),
            "created_at": iso(op.created_at),
            "error_code": error_code.lower() if error_code else None,
            "status": status.lower(),
            "type": "query",
        }
        with self.state.store.lock:
            self.state.store.emit("BULK_OPERATIONS_FINISH", {"payload": payload})


def _user_error(message: str, code: str = "INVALID") -> dict[str, Any]:
    return {"field": ["query"], "message": message, "code": code}


class BulkOperationView:
    typename = "BulkOperation"

    def __init__(self, bulk: BulkOperations, op: BulkOperation) -> None:
        self.id = gid("BulkOperation", op.id)
        self.status = op.status
        self.type = "QUERY"
        self.errorCode = op.error_code
        self.createdAt = iso(op.created_at)
        self.completedAt = iso(op.completed_at) if op.completed_at else None
        self.objectCount = str(op.object_count)
        self.rootObjectCount = str(op.root_object_count)
        self.fileSize = str(op.file_size) if op.file_size is not None else None
        self.query = op.query
        link = f"{bulk.base_url}/bulk-results/{op.id}/{op.token}.jsonl" if op.has_file else None
        self.url = link if op.status in ("COMPLETED", "EXPIRED") else None
        self.partialDataUrl = link if op.status in ("FAILED", "CANCELED") and link else None


class BulkResolvers:
    """Root fields for bulk operations (mixed into the GraphQL root value)."""

    def _bulk(self, info: Any) -> BulkOperations:
        bulk: BulkOperations = info.context["state"].bulk
        base = info.context.get("base_url")
        if base and not bulk.base_url:
            bulk.base_url = base
        return bulk

    def bulkOperationRunQuery(self, info: Any, query: str, groupObjects: bool = False) -> dict[str, Any]:
        bulk = self._bulk(info)
        op, errors = bulk.start(query, groupObjects, info.context.get("version", "2026-10"))
        return {"bulkOperation": BulkOperationView(bulk, op) if op else None, "userErrors": errors}

    def bulkOperationCancel(self, info: Any, id: str) -> dict[str, Any]:
        bulk = self._bulk(info)
        op, errors = bulk.cancel(id)
        return {"bulkOperation": BulkOperationView(bulk, op) if op else None, "userErrors": errors}

    def bulkOperation(self, info: Any, id: str) -> BulkOperationView | None:
        bulk = self._bulk(info)
        op = bulk.get(id)
        return BulkOperationView(bulk, op) if op else None

    def currentBulkOperation(self, info: Any, type: str = "QUERY") -> BulkOperationView | None:
        bulk = self._bulk(info)
        op = bulk.current() if type == "QUERY" else None
        return BulkOperationView(bulk, op) if op else None
