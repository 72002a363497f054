"""Release: due orders are re-read, translated and injected into Peoplevox, exactly once.

One call handles everything that is due, in this order:
1. **In doubt first.** Injections left `sending` (a crash or a lost response) are looked up in
   Peoplevox by SalesOrderNumber: found with every item → accepted; found with items missing →
   only the missing items are sent; not found → sent again. Nothing is created twice.
2. **Re-read.** Due orders (hold window over) and held orders are read again from Shopify, so
   edits and cancellations made during the hold are honoured.
3. **Translate.** Pure rules (lib/domain/translate): held orders get exceptions with owners,
   orders with nothing to ship are set aside, the rest become sales orders.
4. **Write-ahead, then inject.** Intent is recorded as `sending` in the ledger, then headers and
   items are saved in batches; per-row verdicts become `accepted` or `failed` (with
   Peoplevox's own text in an `injection_failed` exception).
5. **Changes after injection** are planned by lib/domain/cutoff and pushed before the cut-off,
   or raised as exceptions at or after it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sync_pipeline.lib.domain.bundles import explode_lines
from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.cutoff import ChangeAction, ChangePlan, plan_change
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.sales_order import (
    HeldOrder,
    NotForWarehouse,
    NotForWarehouseReason,
    SalesOrderHeader,
    SalesOrderItem,
    TranslatedOrder,
    TranslationOutcome,
)
from sync_pipeline.lib.domain.shippable import shippable_lines
from sync_pipeline.lib.domain.translate import translate_order
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.ports import (
    BatchRefusedError,
    OrdersSource,
    RowResult,
    SaveOutcomeUnknownError,
    Warehouse,
)
from sync_pipeline.lib.flows.orders.records import aware, naive
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, OrderEvent
from sync_pipeline.lib.ledger import catalogue as ledger_catalogue
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import injections as ledger_injections
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.catalogue import ItemTypeRow

R = TypeVar("R", SalesOrderHeader, SalesOrderItem)
HELD_KINDS = ("unmapped_sku", "bad_address")


@dataclass
class ReleaseReport:
    in_doubt_resolved: Counter[str] = field(default_factory=Counter)
    due: int = 0
    injected: int = 0
    failed: int = 0
    held: int = 0
    not_for_warehouse: int = 0
    cancelled_before_release: int = 0
    outcome_unknown: int = 0
    changes: Counter[str] = field(default_factory=Counter)
    exceptions_opened: int = 0
    reread_in_full: int = 0  # orders that changed during the hold and were read again in full
    superseded: int = 0  # a newer version was ingested while we worked: left for the next pass
    injected_orders: list[tuple[str, str, str]] = field(default_factory=list)  # name, number, site

    @property
    def summary(self) -> dict[str, int]:
        return {
            "due": self.due,
            "injected": self.injected,
            "failed": self.failed,
            "held": self.held,
            "not_for_warehouse": self.not_for_warehouse,
            "cancelled_before_release": self.cancelled_before_release,
            "outcome_unknown": self.outcome_unknown,
            "exceptions_opened": self.exceptions_opened,
            "reread_in_full": self.reread_in_full,
            "superseded": self.superseded,
        }


def stored_translation(header: dict | None, items: list | None) -> TranslatedOrder | None:
    if not header:
        return None
    return TranslatedOrder.model_validate({**header, "items": items or []})


def _translation_record(translated: TranslatedOrder) -> tuple[dict, list]:
    header = translated.model_dump(mode="json", exclude={"items"})
    return header, [item.model_dump(mode="json") for item in translated.items]


def _batches(rows: Sequence, size: int) -> list[Sequence]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


# A release run keeps releasing what comes due while it runs, up to this long: in a flash sale
# the Peoplevox limiter is the bottleneck, and the gap between runs (sensor tick, launch) would
# otherwise leave its budget idle.
RELEASE_RUN_SECONDS = 120.0


def release(
    source: OrdersSource,
    warehouse: Warehouse,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    now: datetime,
    limit: int = 2000,
    max_seconds: float = RELEASE_RUN_SECONDS,
) -> ReleaseReport:
    report = ReleaseReport()
    started = time.monotonic()
    resolve_in_doubt(warehouse, ledger, rules, actor, report)
    first_pass = True
    known_codes: set[str] = set()
    while True:
        moment = now + timedelta(seconds=time.monotonic() - started)
        with ledger.transaction() as con:
            due_ids = ledger_orders.ids_in_state(
                con, [state.AWAITING_RELEASE], due_before=naive(moment), limit=limit
            )
            # Held orders are re-checked once a run (a fix may have landed in Peoplevox or config).
            held_ids = (
                ledger_orders.ids_in_state(con, [state.HELD], limit=200, least_recently_touched=True)
                if first_pass
                else []
            )
            known_codes = ledger_catalogue.known_item_codes(con)
            known_rows = ledger_orders.get_many(con, [*due_ids, *held_ids])
        candidates = [*due_ids, *held_ids]
        if not candidates:
            break
        report.due += len(due_ids)
        fresh = reread(source, known_rows, candidates, report)
        _set_aside_missing([c for c in candidates if c not in fresh], ledger, actor, report)
        translations = _translate_all(fresh, warehouse, ledger, rules, known_codes)
        _record_and_inject(fresh, translations, warehouse, ledger, rules, actor, report, set(held_ids))
        first_pass = False
        if time.monotonic() - started >= max_seconds:
            break
    push_changes(source, warehouse, ledger, rules, actor, report, known_codes)
    return report


def _set_aside_missing(missing: list[str], ledger: Ledger, actor: str, report: ReleaseReport) -> None:
    """Orders Shopify no longer returns (deleted): nothing to send, and never retried forever."""
    if not missing:
        return
    with ledger.transaction() as con:
        current = ledger_orders.get_many(con, missing)
        missing = [
            oid
            for oid in missing
            if oid in current and current[oid].state in (state.AWAITING_RELEASE, state.HELD)
        ]
        for oid in missing:
            ledger_orders.set_fields(con, oid, state=state.NOT_FOR_WAREHOUSE)
        ledger_events.append(
            con,
            [
                OrderEvent(
                    oid, "state_changed", actor, reason=f"→ {state.NOT_FOR_WAREHOUSE}: not found in Shopify"
                )
                for oid in missing
            ],
        )
    report.not_for_warehouse += len(missing)


def reread(
    source: OrdersSource, known: dict[str, ledger_orders.OrderRow], ids: list[str], report: ReleaseReport
) -> dict[str, ShopOrder]:
    """The orders as Shopify has them now, just before release.

    A cheap version check (`updatedAt`, about a point per order) confirms which ledger snapshots
    are still current; only orders that changed since are read in full. Edits and cancellations
    made during the hold are honoured either way, at a fraction of a full read's cost.
    """
    versions = source.order_versions(ids)
    current: dict[str, ShopOrder] = {}
    stale: list[str] = []
    for oid in ids:
        row = known.get(oid)
        snapshot = ShopOrder.model_validate(row.snapshot) if row and row.snapshot else None
        if oid not in versions:
            continue  # deleted in Shopify: nothing to release
        if snapshot is not None and aware(snapshot.updated_at) == versions[oid]:
            current[oid] = snapshot
        else:
            stale.append(oid)
    if stale:
        current.update(source.orders_by_ids(stale))
    report.reread_in_full += len(stale)
    return current


def _translate_all(
    fresh: dict[str, ShopOrder], warehouse: Warehouse, ledger: Ledger, rules: BusinessRules, known: set[str]
) -> dict[str, object]:
    outcomes = {oid: translate_order(order, rules, known) for oid, order in fresh.items()}
    # Before holding an order for an unmapped SKU, ask Peoplevox about those codes: an item type
    # created since the last catalogue refresh must not hold an order.
    unknown = sorted(
        {
            rules.sku_overrides.overrides.get(unit.sku, unit.sku)
            for oid, outcome in outcomes.items()
            if isinstance(outcome, HeldOrder)
            and any(e.kind.value == "unmapped_sku" for e in outcome.exceptions)
            # Bundles exploded first: a component, not the bundle SKU, is what Peoplevox stocks.
            for unit in explode_lines(shippable_lines(fresh[oid].lines), rules.bundles)
            if unit.sku
        }
        - known
    )
    if unknown:
        found = warehouse.existing_item_codes(unknown)
        if found:
            with ledger.transaction() as con:
                ledger_catalogue.upsert_item_types(con, [ItemTypeRow(c, None, None) for c in found])
            known = known | found
            outcomes = {oid: translate_order(order, rules, known) for oid, order in fresh.items()}
    return outcomes


def still_releasable(row: ledger_orders.OrderRow | None, order: ShopOrder) -> bool:
    """Compare-and-set: the row is still one release may act on, and not newer than our read."""
    if row is None or row.state not in (state.AWAITING_RELEASE, state.HELD):
        return False
    return row.shopify_updated_at is None or row.shopify_updated_at <= naive(aware(order.updated_at))


def snapshot_fields(order: ShopOrder) -> dict[str, object]:
    """The ledger columns that describe which version of the order we hold."""
    return {"snapshot": order.model_dump(mode="json"), "shopify_updated_at": naive(aware(order.updated_at))}


def _record_and_inject(
    fresh: dict[str, ShopOrder],
    outcomes: dict[str, object],
    warehouse: Warehouse,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    report: ReleaseReport,
    held_before: set[str],
) -> None:
    to_send: list[TranslatedOrder] = []
    with ledger.transaction() as con:
        events: list[OrderEvent] = []
        exceptions: list[ExceptionRecord] = []
        current = ledger_orders.get_many(con, list(outcomes))
        for oid, outcome in outcomes.items():
            order = fresh[oid]
            if not still_releasable(current.get(oid), order):
                # An ingest committed a newer version (a cancellation, an edit) while we read
                # Shopify: that version wins; the next pass sees it.
                report.superseded += 1
                continue
            if isinstance(outcome, HeldOrder):
                if oid not in held_before:
                    report.held += 1
                    events.append(
                        OrderEvent(oid, "state_changed", actor, reason=f"awaiting_release → {state.HELD}")
                    )
                ledger_orders.set_fields(con, oid, state=state.HELD)
                exceptions.extend(
                    ExceptionRecord(
                        kind=e.kind.value,
                        owner=e.owner.value,
                        message=e.message,
                        shopify_order_id=oid,
                        sales_order_number=outcome.sales_order_number,
                        subject=e.message,
                    )
                    for e in outcome.exceptions
                )
            elif isinstance(outcome, NotForWarehouse):
                cancelled = outcome.reason is NotForWarehouseReason.CANCELLED
                new_state = state.CANCELLED_BEFORE_RELEASE if cancelled else state.NOT_FOR_WAREHOUSE
                report.cancelled_before_release += cancelled
                report.not_for_warehouse += not cancelled
                ledger_orders.set_fields(con, oid, state=new_state, **snapshot_fields(order))
                events.append(
                    OrderEvent(oid, "state_changed", actor, reason=f"→ {new_state}: {outcome.message}")
                )
                ledger_exceptions.resolve_for_order(con, oid, HELD_KINDS, outcome.message)
            else:
                assert isinstance(outcome, TranslatedOrder)
                to_send.append(outcome)
        ledger_exceptions.open_or_touch(con, exceptions)
        report.exceptions_opened += len(exceptions)
        # Write-ahead: from here a crash leaves `sending`, which the next run looks up.
        ledger_injections.mark_sending(
            con,
            [(t.sales_order_number, t.order_id, *_translation_record(t)) for t in to_send],
            run_id=actor,
        )
        for t in to_send:
            ledger_orders.set_fields(
                con,
                t.order_id,
                state=state.INJECTING,
                sales_order_number=t.sales_order_number,
                site=t.header.Site,
                channel=t.header.ChannelName,
                **snapshot_fields(fresh[t.order_id]),
            )
            events.append(
                OrderEvent(
                    t.order_id,
                    "state_changed",
                    actor,
                    reason=f"→ {state.INJECTING} as {t.sales_order_number}",
                )
            )
        ledger_events.append(con, events)
    inject(to_send, warehouse, ledger, rules, actor, report)


# Orders per wave: headers and items are batched across a whole wave, so item batches are
# full (items per order vary) and each SaveData call carries the most rows the limiter allows;
# verdicts are recorded after each wave, so the ledger never lags far behind Peoplevox.
BATCHES_PER_WAVE = 10


def inject(
    orders: Sequence[TranslatedOrder],
    warehouse: Warehouse,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    report: ReleaseReport,
    items_only: dict[str, Sequence[SalesOrderItem]] | None = None,
) -> None:
    """Save headers, then their items, wave by wave; record each wave's verdicts when known."""
    size = rules.orders.injection_batch_rows
    for wave in _batches(list(orders), size * BATCHES_PER_WAVE):
        _inject_wave(wave, warehouse, ledger, size, actor, report, items_only or {})


def _save_isolating(
    save: Callable[[Sequence[R]], list[RowResult]], rows: Sequence[R], key: Callable[[R], str]
) -> tuple[list[tuple[R, RowResult]], set[str]]:
    """Save rows; a request Peoplevox refuses whole is split until the offending row is alone.

    Returns (row, verdict) pairs and the keys whose outcome is unknown. Without the split, one
    bad row would fail its whole batch on every run, and every order behind it would wait.
    """
    try:
        return list(zip(rows, save(rows), strict=True)), set()
    except SaveOutcomeUnknownError:
        return [], {key(r) for r in rows}
    except BatchRefusedError as refusal:
        if len(rows) == 1:
            return [(rows[0], RowResult(key(rows[0]), ok=False, message=refusal.message))], set()
        middle = len(rows) // 2
        first, unknown_first = _save_isolating(save, rows[:middle], key)
        second, unknown_second = _save_isolating(save, rows[middle:], key)
        return first + second, unknown_first | unknown_second


def _inject_wave(
    wave: Sequence[TranslatedOrder],
    warehouse: Warehouse,
    ledger: Ledger,
    size: int,
    actor: str,
    report: ReleaseReport,
    items_only: dict[str, Sequence[SalesOrderItem]],
) -> None:
    unknown: set[str] = set()  # outcome unknown: left `sending`, looked up by the next run
    header_results: dict[str, RowResult] = {}
    needs_header = [t.header for t in wave if t.sales_order_number not in items_only]
    for batch in _batches(needs_header, size):
        verdicts, lost = _save_isolating(warehouse.save_headers, batch, lambda h: h.SalesOrderNumber)
        header_results.update((h.SalesOrderNumber, r) for h, r in verdicts)
        unknown |= lost
    item_rows = [
        item
        for t in wave
        if t.sales_order_number not in unknown
        and (t.sales_order_number not in header_results or header_results[t.sales_order_number].ok)
        for item in items_only.get(t.sales_order_number, t.items)
    ]
    item_results: dict[str, list[tuple[SalesOrderItem, RowResult]]] = {}
    for item_batch in _batches(item_rows, size):
        verdicts, lost = _save_isolating(warehouse.save_items, item_batch, lambda i: i.SalesOrderNumber)
        for item, verdict in verdicts:
            item_results.setdefault(item.SalesOrderNumber, []).append((item, verdict))
        unknown |= lost
    report.outcome_unknown += len(unknown)
    decided = {t.sales_order_number: t for t in wave if t.sales_order_number not in unknown}
    _record_verdicts(decided, header_results, item_results, ledger, actor, report)


def _record_verdicts(
    by_number: dict[str, TranslatedOrder],
    header_results: dict[str, RowResult],
    item_results: dict[str, list[tuple[SalesOrderItem, RowResult]]],
    ledger: Ledger,
    actor: str,
    report: ReleaseReport,
) -> None:
    with ledger.transaction() as con:
        events: list[OrderEvent] = []
        problems: list[ExceptionRecord] = []
        for number, translated in by_number.items():
            oid = translated.order_id
            header = header_results.get(number)
            refused_items = [(item, r) for item, r in item_results.get(number, []) if not r.ok]
            if header is not None and not header.ok:
                # Nothing of the order is in Peoplevox: it is ours to fix and resend.
                ledger_injections.mark(con, number, "failed", header.message)
                ledger_orders.set_fields(con, oid, state=state.INJECTION_FAILED, change_pending=False)
                problems.append(
                    ExceptionRecord(
                        kind="injection_failed",
                        owner="warehouse_ops",
                        message=f"Peoplevox refused sales order {number}: {header.message}",
                        shopify_order_id=oid,
                        sales_order_number=number,
                    )
                )
                events.append(OrderEvent(oid, "injection_failed", actor, reason=header.message))
                report.failed += 1
                continue
            # The header is in Peoplevox: the order is live in the warehouse, even if some item
            # rows were refused. Record exactly what Peoplevox holds, so later edits and
            # cancellations go through the cut-off rule like any other order's.
            if refused_items:
                refused_codes = {item.ItemCode for item, _ in refused_items}
                held_by_pvx = translated.model_copy(
                    update={"items": tuple(i for i in translated.items if i.ItemCode not in refused_codes)}
                )
                header_record, items_record = _translation_record(held_by_pvx)
                ledger_injections.mark_sending(
                    con, [(number, oid, header_record, items_record)], run_id=actor
                )
                text = "; ".join(f"{item.ItemCode}: {r.message}" for item, r in refused_items)
                problems.append(
                    ExceptionRecord(
                        kind="injection_failed",
                        owner="warehouse_ops",
                        message=f"Peoplevox took sales order {number} but refused items: {text}",
                        shopify_order_id=oid,
                        sales_order_number=number,
                        subject=",".join(sorted(refused_codes)),
                    )
                )
                events.append(OrderEvent(oid, "items_refused", actor, reason=text))
                report.failed += 1
            else:
                ledger_exceptions.resolve_for_order(
                    con, oid, (*HELD_KINDS, "injection_failed"), "accepted by Peoplevox"
                )
                report.injected += 1
                report.injected_orders.append(
                    (translated.header.CustomerPurchaseOrderReferenceNumber, number, translated.header.Site)
                )
            ledger_injections.mark(con, number, "accepted")
            ledger_orders.set_fields(con, oid, state=state.IN_WAREHOUSE, pvx_status="New")
            events.append(
                OrderEvent(
                    oid,
                    "injected",
                    actor,
                    reason=f"accepted by Peoplevox as {number} ({translated.header.Site})",
                )
            )
        ledger_exceptions.open_or_touch(con, problems)
        report.exceptions_opened += len(problems)
        ledger_events.append(con, events)


def resolve_in_doubt(
    warehouse: Warehouse, ledger: Ledger, rules: BusinessRules, actor: str, report: ReleaseReport
) -> None:
    """Finish every injection whose outcome is unknown, without creating anything twice."""
    with ledger.transaction() as con:
        doubtful = ledger_injections.in_state(con, "sending")
    if not doubtful:
        return
    found = {}
    for chunk in _batches([d.sales_order_number for d in doubtful], 100):
        found.update(warehouse.find_sales_orders(chunk, with_items=True))
    resend: list[TranslatedOrder] = []
    missing_items: dict[str, Sequence[SalesOrderItem]] = {}
    confirmed: list[TranslatedOrder] = []
    for d in doubtful:
        translated = stored_translation(d.header, d.items)
        if translated is None:
            continue
        existing = found.get(d.sales_order_number)
        if existing is None:
            resend.append(translated)
            report.in_doubt_resolved["resent"] += 1
            continue
        lacking = [
            i for i in translated.items if existing.item_quantities.get(i.ItemCode, 0) < i.QuantityOrdered
        ]
        if lacking:
            missing_items[d.sales_order_number] = lacking
            resend.append(translated)
            report.in_doubt_resolved["items_completed"] += 1
        else:
            confirmed.append(translated)
            report.in_doubt_resolved["found_in_peoplevox"] += 1
    if confirmed:
        _record_verdicts({t.sales_order_number: t for t in confirmed}, {}, {}, ledger, actor, ReleaseReport())
    if resend:
        inject(resend, warehouse, ledger, rules, actor, report, items_only=missing_items)


def push_changes(
    source: OrdersSource,
    warehouse: Warehouse,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    report: ReleaseReport,
    known_codes: set[str],
) -> None:
    """Shopify edits and cancellations of injected orders: push before the cut-off, else flag."""
    with ledger.transaction() as con:
        changed_ids = ledger_orders.with_pending_change(con, limit=500)
        rows = ledger_orders.get_many(con, changed_ids)
        sent = ledger_injections.get_many(
            con, [r.sales_order_number for r in rows.values() if r.sales_order_number]
        )
    pending = [
        (rows[oid], sent[rows[oid].sales_order_number])
        for oid in changed_ids
        if rows[oid].sales_order_number in sent and sent[rows[oid].sales_order_number].state == "accepted"
    ]
    if not pending:
        return
    fresh = source.orders_by_ids([row.shopify_order_id for row, _ in pending])
    current = {}
    for chunk in _batches([inj.sales_order_number for _, inj in pending], 100):
        current.update(warehouse.find_sales_orders(chunk, with_items=False))

    for row, injection in pending:
        order = fresh.get(row.shopify_order_id)
        before = stored_translation(injection.header, injection.items)
        if order is None or before is None:
            _change_impossible(row.shopify_order_id, injection.sales_order_number, ledger, report)
            continue
        number = injection.sales_order_number
        latest = translate_order(order, rules, known_codes)
        status = current[number].status if number in current else None
        plan = plan_change(before, latest, status, rules.orders.cutoff_status)
        report.changes[plan.action.value] += 1
        results: list[RowResult] = []
        try:
            if plan.action is ChangeAction.CANCEL:
                results = warehouse.cancel([number])
            elif plan.action is ChangeAction.UPDATE:
                if plan.header_updates:
                    results += warehouse.update_headers([plan.header_updates])
                if plan.item_rows:
                    results += warehouse.save_items(list(plan.item_rows))
        except SaveOutcomeUnknownError:
            continue  # still pending: the next run plans it again from Peoplevox's current state
        _record_change(
            row.shopify_order_id, number, order, latest, plan, status, results, ledger, actor, report
        )


def _change_impossible(oid: str, number: str, ledger: Ledger, report: ReleaseReport) -> None:
    """Shopify no longer returns the order (or we lack what we sent): a person must look."""
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
            ],
        )
        ledger_orders.set_fields(con, oid, change_pending=False)
    report.exceptions_opened += 1


def _record_change(
    oid: str,
    number: str,
    order: ShopOrder,
    latest: TranslationOutcome,
    plan: ChangePlan,
    status: str | None,
    results: list[RowResult],
    ledger: Ledger,
    actor: str,
    report: ReleaseReport,
) -> None:
    refused = [r.message for r in results if not r.ok]
    with ledger.transaction() as con:
        events = [
            OrderEvent(
                oid,
                f"change_{plan.action.value}",
                actor,
                reason=plan.summary,
                detail={"warehouse_status": status},
            )
        ]
        row = ledger_orders.get_many(con, [oid]).get(oid)
        newer_ingested = (
            row is not None
            and row.shopify_updated_at is not None
            and (row.shopify_updated_at > naive(aware(order.updated_at)))
        )
        # What was pushed is recorded either way; but if ingest committed a newer version while
        # we talked to Peoplevox, that version stays pending and the next run plans from it.
        fields: dict[str, object] = (
            {} if newer_ingested else {"change_pending": False, **snapshot_fields(order)}
        )
        if plan.action is ChangeAction.EXCEPTION or refused:
            message_records = [
                ExceptionRecord(
                    kind=e.kind.value,
                    owner=e.owner.value,
                    message=e.message,
                    shopify_order_id=oid,
                    sales_order_number=number,
                    subject=plan.summary,
                )
                for e in plan.exceptions
            ]
            if refused:
                message_records.append(
                    ExceptionRecord(
                        kind="change_failed",
                        owner="cx",
                        message=f"Peoplevox refused the change to {number} ({plan.summary}): {'; '.join(refused)}",
                        shopify_order_id=oid,
                        sales_order_number=number,
                        subject=plan.summary,
                    )
                )
            ledger_exceptions.open_or_touch(con, message_records)
            report.exceptions_opened += len(message_records)
        elif plan.action is ChangeAction.CANCEL:
            fields.update(state=state.CANCELLED_IN_WAREHOUSE, pvx_status="Cancelled")
            ledger_injections.mark(con, number, "accepted")
        elif plan.action is ChangeAction.UPDATE and isinstance(latest, TranslatedOrder):
            header, items = _translation_record(latest)
            ledger_injections.mark_sending(con, [(number, oid, header, items)], run_id=actor)
            ledger_injections.mark(con, number, "accepted")
        if fields:
            ledger_orders.set_fields(con, oid, **fields)
        ledger_events.append(con, events)
