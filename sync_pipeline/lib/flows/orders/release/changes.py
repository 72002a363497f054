"""Step 5 of release: Shopify changes to orders already in Peoplevox, pushed before the cut-off or raised.

Every pending change is brought up to Shopify's current version (read in full only when Shopify
changed it since the ledger's snapshot) and recorded as ingest records it, planned against
what Peoplevox holds (`pvx_injections.header/items`, kept row by row), pushed in full requests
(one order's refusal never blocks the next), and recorded as Peoplevox applied it. A cancel is
read back: only what Peoplevox then reports is believed.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.cutoff import ChangeAction, ChangePlan, applied_update, contents, plan_change
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.sales_order import NotForWarehouse, TranslatedOrder, TranslationOutcome
from sync_pipeline.lib.domain.statuses import PeoplevoxStatus, parse_status
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.ports import OrdersSource, RowResult, Warehouse
from sync_pipeline.lib.flows.orders.release.inject import item_batches, save_isolating
from sync_pipeline.lib.flows.orders.release.report import ReleaseReport
from sync_pipeline.lib.flows.orders.release.reread import bring_up_to_date, translate_all
from sync_pipeline.lib.flows.orders.release.translations import (
    R,
    batches,
    stored_translation,
    translation_record,
)
from sync_pipeline.lib.flows.orders.statuses import (
    SETTLED_BY_CANCEL,
    AllocationMoved,
    after_status,
    allocation_moved,
)
from sync_pipeline.lib.flows.stock.inputs import awaits_allocation
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, OrderEvent, utcnow
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import injections as ledger_injections
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.orders import OrderRow

# Exceptions about a change that the next plan settles: closed when Peoplevox holds what
# Shopify wants, replaced when the plan finds something else wrong.
CHANGE_KINDS = (
    "injection_failed",  # items refused at injection: a later change that gets them in settles it
    "needs_manual_edit",
    "change_failed",
    "change_after_cutoff",
    "cancel_not_confirmed",
    "unmapped_sku",
    "bad_address",
    "unsendable_text",
)
# Exceptions a later plan can settle with no new Shopify change (an item type created in
# Peoplevox, a config fix): orders carrying one are planned again on every run.
REPLAN_KINDS = ("unmapped_sku", "unsendable_text")
LIVE_STATES = (state.IN_WAREHOUSE, state.CANCELLED_BY_WAREHOUSE)


@dataclass
class Change:
    oid: str
    number: str
    planned_from: ShopOrder
    sent: TranslatedOrder
    latest: TranslationOutcome
    plan: ChangePlan
    status: str | None
    results: list[RowResult] = field(default_factory=list)
    unknown: bool = False  # no answer: in doubt until the next run looks it up
    status_after: str | None = None  # a cancel, read back


def push_changes(
    source: OrdersSource,
    warehouse: Warehouse,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    report: ReleaseReport,
    known_codes: set[str],
    now: datetime | None = None,
    on_allocation: AllocationMoved | None = None,
) -> None:
    """Shopify edits, refunds and cancellations of injected orders: push before the cut-off, else raise.

    `now`: the time Shopify is read (default: the clock), recorded with what is read.
    `on_allocation`: queues the items of orders whose units stopped (or started) awaiting
    allocation, in the transaction that records it.
    """
    with ledger.transaction() as con:
        ids = ledger_orders.with_pending_change(con, limit=500)
        ids += ledger_orders.with_open_exceptions(con, LIVE_STATES, REPLAN_KINDS, limit=200)
        rows = ledger_orders.get_many(con, ids)
        sent = ledger_injections.get_many(
            con, [r.sales_order_number for r in rows.values() if r.sales_order_number]
        )
    work = [
        oid
        for oid in dict.fromkeys(ids)
        if rows[oid].sales_order_number in sent and sent[rows[oid].sales_order_number].state == "accepted"
    ]
    if not work:
        return
    read_at = now or datetime.now(UTC)
    # Only orders Shopify changed since their snapshot are read in full: the orders re-planned
    # for an open exception (up to 200, every run) are mostly unchanged.
    missing, _ = bring_up_to_date(source, ledger, rules, actor, work, read_at)
    with ledger.transaction() as con:
        rows = ledger_orders.get_many(con, work)
    changes: list[Change] = []
    orders: dict[str, ShopOrder] = {}
    held_before: dict[str, TranslatedOrder] = {}  # what Peoplevox holds, as we last recorded it
    impossible: list[tuple[str, str]] = []
    for oid in work:
        number = rows[oid].sales_order_number or ""
        before = stored_translation(sent[number].header, sent[number].items)
        if oid in missing or before is None or not rows[oid].snapshot:
            impossible.append((oid, number))
            continue
        orders[oid] = ShopOrder.model_validate(rows[oid].snapshot)
        held_before[oid] = before
    _change_impossible(impossible, ledger, report)
    outcomes = translate_all(orders, warehouse, ledger, rules, known_codes)
    numbers = [rows[oid].sales_order_number or "" for oid in orders]
    statuses = {n: o.status for n, o in warehouse.find_sales_orders(numbers, with_items=False).items()}
    for oid, order in orders.items():
        number = rows[oid].sales_order_number or ""
        before = held_before[oid]
        status = statuses.get(number)
        plan = plan_change(before, outcomes[oid], status, rules.orders.cutoff_status)
        report.changes[plan.action.value] += 1
        changes.append(Change(oid, number, order, before, outcomes[oid], plan, status))
    # Write-ahead, as for an injection: a run that dies (or fails on another order) after
    # Peoplevox applied a change but before `_record` leaves `sending`, and the next run reads
    # the order back (resolve_in_doubt) instead of planning from what it held before.
    writes = [c.number for c in changes if c.plan.action in (ChangeAction.CANCEL, ChangeAction.UPDATE)]
    if writes:
        with ledger.transaction() as con:
            ledger_injections.mark_change_sending(con, writes)
    _push_all(changes, warehouse, rules.orders.injection_batch_rows)
    cancels = [c for c in changes if c.plan.action is ChangeAction.CANCEL and c.results and c.results[0].ok]
    if cancels:
        found = warehouse.find_sales_orders([c.number for c in cancels], with_items=False)
        for c in cancels:
            c.status_after = found[c.number].status if c.number in found else None
    _record(changes, ledger, actor, report, on_allocation)


def _push_all(changes: list[Change], warehouse: Warehouse, size: int) -> None:
    """Push every change in as few requests as Peoplevox allows (the limiter counts requests, not
    rows): cancellations together, header updates together (one CSV per column set), then the
    item rows of every update, batched without splitting an order. A request refused whole is
    split until the offending row is alone (`save_isolating`), so one order's refusal stays its
    own problem; a request whose answer is lost leaves its orders in doubt."""
    cancels = [c for c in changes if c.plan.action is ChangeAction.CANCEL]
    updates = [c for c in changes if c.plan.action is ChangeAction.UPDATE]
    by_number = {c.number: c for c in changes if c.plan.action in (ChangeAction.CANCEL, ChangeAction.UPDATE)}

    def save(
        call: Callable[[Sequence[R]], list[RowResult]],
        requests: Sequence[Sequence[R]],
        key: Callable[[R], str],
    ) -> None:
        for batch in requests:
            verdicts, unknown = save_isolating(call, batch, key)
            for row, verdict in verdicts:
                by_number[key(row)].results.append(verdict)
            for number in unknown:
                by_number[number].unknown = True

    save(warehouse.cancel, batches([c.number for c in cancels], size), lambda number: number)
    column_sets: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for c in updates:
        if c.plan.header_updates:
            column_sets.setdefault(tuple(c.plan.header_updates), []).append(c.plan.header_updates)
    for rows in column_sets.values():
        save(warehouse.update_headers, batches(rows, size), lambda row: row["SalesOrderNumber"])
    with_items = [c for c in updates if c.plan.item_rows and not c.unknown]
    save(
        warehouse.save_items,
        item_batches(with_items, lambda c: c.plan.item_rows, size),
        lambda i: i.SalesOrderNumber,
    )


def _change_impossible(impossible: list[tuple[str, str]], ledger: Ledger, report: ReleaseReport) -> None:
    """(order id, sales order number) of orders Shopify no longer returns (or whose sent rows we
    lack): a person must look."""
    if not impossible:
        return
    with ledger.transaction() as con:
        ledger_exceptions.open_or_touch(
            con,
            [
                ExceptionRecord(
                    kind="change_failed",
                    owner="cx",
                    message=f"order changed after {number} reached Peoplevox, but Shopify no longer returns it; "
                    "check the sales order in Peoplevox by hand",
                    shopify_order_id=oid,
                    sales_order_number=number,
                )
                for oid, number in impossible
            ],
        )
        ledger_orders.set_fields_many(con, [(oid, {"change_pending": False}) for oid, _ in impossible])
    report.exceptions_opened += len(impossible)


@dataclass
class _Writes:
    """What `_record` writes, gathered change by change and written one statement each (row by
    row, the orders re-planned for an open exception, up to 200 a run, were several apiece)."""

    fields: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)  # sales order numbers
    records: list[tuple[str, dict, list]] = field(default_factory=list)  # what Peoplevox now holds
    cancels_seen: list[tuple[str, str]] = field(default_factory=list)  # (order id, resolution)
    problems: list[ExceptionRecord] = field(default_factory=list)
    settled: list[tuple[str, str]] = field(default_factory=list)  # (order id, resolution)
    kept: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # problems still open
    events: list[OrderEvent] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)


def _record(
    changes: list[Change],
    ledger: Ledger,
    actor: str,
    report: ReleaseReport,
    on_allocation: AllocationMoved | None,
) -> None:
    with ledger.transaction() as con:
        rows = ledger_orders.get_many(con, [c.oid for c in changes])
        writes = _Writes()
        for change in changes:
            if change.unknown:
                # In doubt, like an injection whose answer was lost: the next run looks the order
                # up first (resolve_in_doubt), then plans the change again against what we know
                # Peoplevox holds. Every push is idempotent (absolute quantities, header values).
                # The injection stays `sending`, as mark_change_sending left it before the push.
                writes.fields.append((change.oid, {"change_pending": True}))
                writes.events.append(
                    OrderEvent(change.oid, "change_outcome_unknown", actor, reason=change.plan.summary)
                )
                report.outcome_unknown += 1
                continue
            writes.answered.append(change.number)
            problems = _record_one(change, rows[change.oid], actor, writes)
            writes.problems += problems
            writes.settled.append((change.oid, f"settled: {change.plan.summary}"))
            writes.kept[change.oid] = [(p.kind, p.subject) for p in problems]
        # Each order's own sequence is kept: its cancellation settled, its problems opened, then
        # the rest of its change exceptions closed (one change an order: `work` is unique).
        ledger_orders.set_fields_many(con, writes.fields)
        ledger_orders.mark_allocation_learned(con, writes.moved)
        ledger_injections.mark_changes_answered(con, writes.answered)
        ledger_injections.set_records(con, writes.records)
        ledger_exceptions.resolve_each_order(con, writes.cancels_seen, SETTLED_BY_CANCEL)
        report.exceptions_opened += ledger_exceptions.open_or_touch(con, writes.problems)
        ledger_exceptions.resolve_each_order(con, writes.settled, CHANGE_KINDS, keep=writes.kept)
        ledger_events.append(con, writes.events)
        if writes.moved and on_allocation is not None:
            report.stock_items_hinted += on_allocation(con, writes.moved)


def _record_one(change: Change, row: OrderRow, actor: str, writes: _Writes) -> list[ExceptionRecord]:
    """Record one planned change as Peoplevox applied it (into `writes`); returns the exceptions
    it leaves open."""
    oid, number, plan = change.oid, change.number, change.plan
    # If ingest committed another version while we talked to Peoplevox, it stays pending.
    newer = not row.snapshot or ShopOrder.model_validate(row.snapshot) != change.planned_from
    fields: dict[str, object] = {} if newer else {"change_pending": False}
    status = change.status_after or change.status
    if status is not None and status != row.pvx_status:
        fields.update(pvx_status=status, pvx_status_at=utcnow())
    writes.events.append(
        OrderEvent(
            oid,
            f"change_{plan.action.value}",
            actor,
            reason=plan.summary,
            detail={"warehouse_status": change.status},
        )
    )

    def problem(kind: str, owner: str, message: str, subject: str = plan.summary) -> ExceptionRecord:
        return ExceptionRecord(kind, owner, message, oid, number, subject)

    problems: list[ExceptionRecord] = []
    reallocated = False  # Peoplevox now holds other quantities than before the change
    cancelled_there = parse_status(status) is PeoplevoxStatus.CANCELLED
    wants_cancel = isinstance(change.latest, NotForWarehouse)
    if plan.action is ChangeAction.EXCEPTION:
        problems = [problem(e.kind.value, e.owner.value, e.message) for e in plan.exceptions]
    elif plan.action is ChangeAction.CANCEL:
        verdict = change.results[0]
        if not verdict.ok:
            problems = [
                problem(
                    "change_failed",
                    "cx",
                    f"Peoplevox refused to cancel {number} ({plan.summary}): {verdict.message}",
                )
            ]
        elif not cancelled_there:
            problems = [
                problem(
                    "cancel_not_confirmed",
                    "cx",
                    f"asked Peoplevox to cancel {number} ({plan.summary}); it accepted the request but reports "
                    f"the order as {status or 'missing'}. Cancel it in Peoplevox by hand before it ships",
                )
            ]
    elif plan.action is ChangeAction.UPDATE and isinstance(change.latest, TranslatedOrder):
        header_rows = 1 if plan.header_updates else 0
        header_ok = not header_rows or change.results[0].ok
        item_verdicts = change.results[header_rows:]
        holds = applied_update(
            change.sent, change.latest, plan, header_ok, tuple(r.ok for r in item_verdicts)
        )
        writes.records.append((number, *translation_record(holds)))
        reallocated = holds.quantities() != change.sent.quantities()
        refused = ([] if header_ok else [f"header: {change.results[0].message}"]) + [
            f"{row_.ItemCode}: {verdict.message}"
            for row_, verdict in zip(plan.item_rows, item_verdicts, strict=True)
            if not verdict.ok
        ]
        if refused:
            problems = [
                problem(
                    "change_failed",
                    "cx",
                    f"Peoplevox applied part of the change to {number} ({plan.summary}) and refused: "
                    f"{'; '.join(refused)}. Peoplevox now has: {contents(holds)}",
                )
            ]
    if cancelled_there and wants_cancel:
        fields["state"] = state.CANCELLED_IN_WAREHOUSE
        writes.cancels_seen.append((oid, f"Peoplevox reports {number} as {status}"))
    elif status is not None:
        # Cancelled by the warehouse while Shopify wants it: recorded as the status run would.
        new_state, cancelled = after_status(row, status)
        fields.update({"state": new_state} if new_state != row.state else {})
        problems.extend([cancelled] if cancelled else [])
    after = replace(row, **{k: v for k, v in fields.items() if k in ("state", "pvx_status")})
    if allocation_moved(row, after) or (reallocated and not awaits_allocation(after.state, after.pvx_status)):
        # An edit Peoplevox applied to an order it had allocated moves the allocation too (it takes
        # added units off its figure, gives removed ones back), and the injection record that
        # `_not_in_warehouse` held them back by changes now: stamped like a status move, a figure
        # read before it still holds the order's units back, and the items are queued for a new read.
        writes.moved.append(oid)
    if fields:
        writes.fields.append((oid, fields))
    return problems
