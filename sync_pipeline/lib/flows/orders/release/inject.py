"""Step 4 of release: record intent (`sending`), save headers and items in waves, record verdicts."""

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.sales_order import (
    HeldOrder,
    NotForWarehouse,
    NotForWarehouseReason,
    SalesOrderItem,
    TranslatedOrder,
    TranslationOutcome,
)
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.ports import (
    BatchRefusedError,
    RowResult,
    SaveOutcomeUnknownError,
    Warehouse,
    WarehouseOrder,
)
from sync_pipeline.lib.flows.orders.release.report import ReleaseReport
from sync_pipeline.lib.flows.orders.release.translations import (
    R,
    as_held,
    batches,
    still_releasable,
    translation_record,
)
from sync_pipeline.lib.flows.orders.statuses import AllocationMoved, after_status, allocation_moved
from sync_pipeline.lib.flows.stock.inputs import awaits_allocation
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, OrderEvent, utcnow
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import injections as ledger_injections
from sync_pipeline.lib.ledger import orders as ledger_orders


def record_and_inject(
    orders: dict[str, ShopOrder],
    outcomes: dict[str, TranslationOutcome],
    warehouse: Warehouse,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    report: ReleaseReport,
    held_before: set[str],
    on_allocation: AllocationMoved | None = None,
) -> None:
    to_send: list[TranslatedOrder] = []
    with ledger.transaction() as con:
        events: list[OrderEvent] = []
        exceptions: list[ExceptionRecord] = []
        # Written in bulk after the loop (one statement each, not one an order: the held orders
        # re-checked every run, up to 200, were several statements apiece).
        fields: list[tuple[str, dict[str, object]]] = []
        settled: list[tuple[str, str]] = []  # (order id, resolution) of its hold exceptions
        kept: dict[str, list[tuple[str, str]]] = {}  # hold exceptions still found, by order
        current = ledger_orders.get_many(con, list(outcomes))
        for oid, outcome in outcomes.items():
            order = orders[oid]
            if not still_releasable(current.get(oid), order):
                # An ingest committed another version (a cancellation, an edit) while we read
                # Shopify: that version wins; the next pass sees it.
                report.superseded += 1
                continue
            if isinstance(outcome, HeldOrder):
                if oid not in held_before:
                    report.held += 1
                    events.append(
                        OrderEvent(oid, "state_changed", actor, reason=f"awaiting_release → {state.HELD}")
                    )
                fields.append((oid, {"state": state.HELD}))
                found = [
                    ExceptionRecord(
                        kind=e.kind.value,
                        owner=e.owner.value,
                        message=e.message,
                        shopify_order_id=oid,
                        sales_order_number=outcome.sales_order_number,
                        subject=e.message,
                    )
                    for e in outcome.exceptions
                ]
                # Problems fixed since the last check close, even while others still hold it.
                settled.append((oid, "no longer a problem"))
                kept[oid] = [(r.kind, r.subject) for r in found]
                exceptions.extend(found)
            elif isinstance(outcome, NotForWarehouse):
                cancelled = outcome.reason is NotForWarehouseReason.CANCELLED
                new_state = state.CANCELLED_BEFORE_RELEASE if cancelled else state.NOT_FOR_WAREHOUSE
                report.cancelled_before_release += cancelled
                report.not_for_warehouse += not cancelled
                fields.append((oid, {"state": new_state}))
                events.append(
                    OrderEvent(oid, "state_changed", actor, reason=f"→ {new_state}: {outcome.message}")
                )
                settled.append((oid, outcome.message))
            else:
                to_send.append(outcome)
        ledger_exceptions.resolve_each_order(con, settled, state.HOLD_EXCEPTIONS, keep=kept)
        ledger_exceptions.open_or_touch(con, exceptions)
        report.exceptions_opened += len(exceptions)
        # Write-ahead: from here a crash leaves `sending`, which the next run looks up.
        ledger_injections.mark_sending(
            con,
            [(t.sales_order_number, t.order_id, *translation_record(t)) for t in to_send],
            run_id=actor,
        )
        fields += [
            (
                t.order_id,
                {
                    "state": state.INJECTING,
                    "sales_order_number": t.sales_order_number,
                    "site": t.header.Site,
                    "channel": t.header.ChannelName,
                },
            )
            for t in to_send
        ]
        ledger_orders.set_fields_many(con, fields)
        for t in to_send:
            events.append(
                OrderEvent(
                    t.order_id,
                    "state_changed",
                    actor,
                    reason=f"→ {state.INJECTING} as {t.sales_order_number}",
                )
            )
        ledger_events.append(con, events)
    inject(to_send, warehouse, ledger, rules, actor, report, on_allocation=on_allocation)


# Orders per wave, in header batches: headers and items are batched across a whole wave, so item
# batches are full (items per order vary; only a wave's last item call is part-full) and each
# SaveData call carries the most rows the limiter allows; verdicts are recorded after each wave,
# so the ledger never lags far behind Peoplevox. A release pass is one wave, the grain of its time
# budget. At most `ORDERS_PER_WAVE`: with 500-row saves, 4 header batches would be 2,000 orders,
# re-read from Shopify and written ahead before the first is sent; 400 (the wave of 100-row saves)
# go in one header request and about two of items (2.5 item rows an order).
BATCHES_PER_WAVE = 4
ORDERS_PER_WAVE = 400


def wave_size(rows_per_save: int) -> int:
    """Orders a release pass takes at most, for saves of `rows_per_save` rows."""
    return min(rows_per_save * BATCHES_PER_WAVE, ORDERS_PER_WAVE)


T = TypeVar("T")


def inject(
    orders: Sequence[TranslatedOrder],
    warehouse: Warehouse,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    report: ReleaseReport,
    items_only: dict[str, Sequence[SalesOrderItem]] | None = None,
    found: dict[str, WarehouseOrder] | None = None,
    on_allocation: AllocationMoved | None = None,
) -> None:
    """Save headers, then their items, wave by wave; record each wave's verdicts when known.

    `items_only` completes orders Peoplevox already has (`found`: as it reported them).
    """
    size = rules.orders.injection_batch_rows
    for wave in batches(list(orders), wave_size(size)):
        _inject_wave(
            wave, warehouse, ledger, size, actor, report, items_only or {}, found or {}, on_allocation
        )


def save_isolating(
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
        first, unknown_first = save_isolating(save, rows[:middle], key)
        second, unknown_second = save_isolating(save, rows[middle:], key)
        return first + second, unknown_first | unknown_second


def item_batches(
    wave: Sequence[T], items_of: Callable[[T], Sequence[SalesOrderItem]], size: int
) -> list[list[SalesOrderItem]]:
    """Item rows in batches of at most `size` that never split an order (unless it alone is
    bigger): a warehouse may allocate an order as soon as it has lines, and would then refuse
    the rest of its lines in the next call."""
    result: list[list[SalesOrderItem]] = []
    current: list[SalesOrderItem] = []
    for order in wave:
        rows = list(items_of(order))
        if current and len(current) + len(rows) > size:
            result.append(current)
            current = []
        while len(rows) > size:
            result.append(rows[:size])
            rows = rows[size:]
        current.extend(rows)
    if current:
        result.append(current)
    return result


def _inject_wave(
    wave: Sequence[TranslatedOrder],
    warehouse: Warehouse,
    ledger: Ledger,
    size: int,
    actor: str,
    report: ReleaseReport,
    items_only: dict[str, Sequence[SalesOrderItem]],
    found: dict[str, WarehouseOrder],
    on_allocation: AllocationMoved | None,
) -> None:
    unknown: set[str] = set()  # outcome unknown: left `sending`, looked up by the next run
    header_results: dict[str, RowResult] = {}
    needs_header = [t.header for t in wave if t.sales_order_number not in items_only]
    for batch in batches(needs_header, size):
        verdicts, lost = save_isolating(warehouse.save_headers, batch, lambda h: h.SalesOrderNumber)
        header_results.update((h.SalesOrderNumber, r) for h, r in verdicts)
        unknown |= lost
    with_items = [
        t
        for t in wave
        if t.sales_order_number not in unknown
        and (t.sales_order_number not in header_results or header_results[t.sales_order_number].ok)
    ]
    item_results: dict[str, list[tuple[SalesOrderItem, RowResult]]] = {}
    for item_batch in item_batches(with_items, lambda t: items_only.get(t.sales_order_number, t.items), size):
        verdicts, lost = save_isolating(warehouse.save_items, item_batch, lambda i: i.SalesOrderNumber)
        for item, verdict in verdicts:
            item_results.setdefault(item.SalesOrderNumber, []).append((item, verdict))
        unknown |= lost
    report.outcome_unknown += len(unknown)
    decided = {t.sales_order_number: t for t in wave if t.sales_order_number not in unknown}
    record_verdicts(decided, header_results, item_results, ledger, actor, report, found, on_allocation)


def record_verdicts(
    by_number: dict[str, TranslatedOrder],
    header_results: dict[str, RowResult],
    item_results: dict[str, list[tuple[SalesOrderItem, RowResult]]],
    ledger: Ledger,
    actor: str,
    report: ReleaseReport,
    found: dict[str, WarehouseOrder] | None = None,
    on_allocation: AllocationMoved | None = None,
) -> None:
    """Peoplevox's verdicts into the ledger. `found`: orders Peoplevox already had before these
    rows (an in-doubt save being finished), with the status and items it reported; any other
    order accepted now is `New`. An order whose units stopped awaiting allocation meanwhile has
    its items queued for the stock flow (`on_allocation`) in the same transaction.

    Compare-and-set against ingest: an order ingest saw change while it was `injecting` has
    `change_pending`; if Peoplevox refused it, that newer version goes back to the release queue
    instead of being left refused (it is often the fix, or a cancellation).
    """
    with ledger.transaction() as con:
        events: list[OrderEvent] = []
        problems: list[ExceptionRecord] = []
        moved: list[str] = []
        # Collected and written in bulk after the loop: row by row, a wave's verdicts held the
        # ledger's lock for seconds (tens of seconds at a load of 37, when other runs gave up).
        marks: list[tuple[str, str, str | None]] = []
        fields: list[tuple[str, dict[str, object]]] = []
        records: list[tuple[str, dict, list]] = []
        accepted: list[str] = []  # first injections: their pre-release exceptions close…
        kept: dict[str, list[tuple[str, str]]] = {}  # …but for the refusal of some of their rows
        rows = ledger_orders.get_many(con, [t.order_id for t in by_number.values()])
        for number, translated in by_number.items():
            oid = translated.order_id
            row = rows.get(oid)
            header = header_results.get(number)
            refused_items = [(item, r) for item, r in item_results.get(number, []) if not r.ok]
            if header is not None and not header.ok:
                # Nothing of the order is in Peoplevox: it is ours to fix and resend.
                marks.append((number, "failed", header.message))
                events.append(OrderEvent(oid, "injection_failed", actor, reason=header.message))
                report.failed += 1
                if row is not None and row.change_pending:
                    fields.append((oid, {"state": state.AWAITING_RELEASE, "change_pending": False}))
                    events.append(
                        OrderEvent(
                            oid,
                            "state_changed",
                            actor,
                            reason=f"{state.INJECTING} → {state.AWAITING_RELEASE}: Peoplevox refused the "
                            "version sent, and Shopify has changed it since; the new version is released",
                        )
                    )
                    continue
                fields.append((oid, {"state": state.INJECTION_FAILED, "change_pending": False}))
                problems.append(
                    ExceptionRecord(
                        kind="injection_failed",
                        owner="warehouse_ops",
                        message=f"Peoplevox refused sales order {number}: {header.message}",
                        shopify_order_id=oid,
                        sales_order_number=number,
                    )
                )
                continue
            # The header is in Peoplevox: the order is live in the warehouse, even if some item
            # rows were refused. Record exactly what Peoplevox holds, so later edits and
            # cancellations go through the cut-off rule like any other order's: what it already
            # had (an in-doubt save being finished), then each row it accepted now.
            refused_codes = {item.ItemCode for item, _ in refused_items}
            sent_now = {item.ItemCode: item for item, r in item_results.get(number, []) if r.ok}
            if found and number in found:
                base = as_held(translated, found[number])
            else:
                base = translated.model_copy(
                    update={"items": tuple(i for i in translated.items if i.ItemCode not in refused_codes)}
                )
            held_items = {i.ItemCode: i for i in base.items} | sent_now
            held_by_pvx = base.model_copy(update={"items": tuple(held_items.values())})
            records.append((number, *translation_record(held_by_pvx)))
            # In doubt were either a first injection or a change pushed to a live order.
            first_time = row is None or row.state == state.INJECTING
            if refused_items:
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
            if first_time:
                # Holds and earlier refusals are over once Peoplevox has the order; only the
                # refusal of some of its rows (just recorded) stays open.
                accepted.append(oid)
                if refused_items:
                    kept[oid] = [("injection_failed", ",".join(sorted(refused_codes)))]
            if first_time and not refused_items:
                report.injected += 1
                report.injected_orders.append(
                    (translated.header.CustomerPurchaseOrderReferenceNumber, number, translated.header.Site)
                )
            marks.append((number, "accepted", None))
            status = found[number].status if found and number in found else "New"
            new_state = state.IN_WAREHOUSE
            if row is not None:
                # Found cancelled already: the warehouse moved on while we did not know the outcome.
                new_state, cancelled = after_status(replace(row, state=state.IN_WAREHOUSE), status)
                problems.extend([cancelled] if cancelled else [])
            if row is not None:
                # A change in doubt that Peoplevox applied to an order past allocation moved the
                # allocation too (`changes._record_one`): the record now has its added units.
                reallocated = held_by_pvx.quantities() != translated.quantities()
                after = replace(row, state=new_state, pvx_status=status)
                if allocation_moved(row, after) or (reallocated and not awaits_allocation(new_state, status)):
                    moved.append(oid)
            fields.append((oid, {"state": new_state, "pvx_status": status, "pvx_status_at": utcnow()}))
            events.append(
                OrderEvent(
                    oid,
                    "injected",
                    actor,
                    reason=f"accepted by Peoplevox as {number} ({translated.header.Site})",
                )
                if first_time
                else OrderEvent(
                    oid,
                    "change_confirmed",
                    actor,
                    reason=f"{number} looked up after a change's answer was lost",
                )
            )
        ledger_injections.mark_many(con, marks)
        ledger_injections.set_records(con, records)
        ledger_orders.set_fields_many(con, fields)
        ledger_orders.mark_allocation_learned(con, moved)
        ledger_exceptions.resolve_each_order(
            con, [(oid, "accepted by Peoplevox") for oid in accepted], state.PRE_RELEASE_EXCEPTIONS, keep=kept
        )
        ledger_exceptions.open_or_touch(con, problems)
        report.exceptions_opened += len(problems)
        ledger_events.append(con, events)
        if moved and on_allocation is not None:
            report.stock_items_hinted += on_allocation(con, moved)
