"""Where an order is on its way to the warehouse, and how a new read of it moves it on.

`observe` is the one rule that turns "what the ledger knew" plus "what Shopify says now" into
the order's next state and the audit events to append. It is pure: the ingest step calls it
inside one short ledger transaction.

States:
- `awaiting_payment`: seen, not paid yet.
- `awaiting_release`: paid, waiting out the hold window (edits and cancellations absorbed here).
- `held`: an exception (unmapped SKU, unusable address) stops it; an edit re-evaluates it.
- `not_for_warehouse`: nothing to ship (gift cards, digital) — not an error.
- `too_old`: created before `max_order_age_days` when first seen; never sent automatically.
- `cancelled_before_release`: cancelled while still ours; the warehouse never saw it.
- `injecting`: sent to Peoplevox, outcome not yet recorded (the next run looks it up).
- `injection_failed`: Peoplevox refused it; an `injection_failed` exception carries its text.
- `in_warehouse`: Peoplevox accepted it. Later Shopify changes set `change_pending`.
- `cancelled_in_warehouse`: cancelled in Peoplevox at our request (Peoplevox confirmed it).
- `cancelled_by_warehouse`: Peoplevox cancelled it while Shopify still wants it shipped; a
  `cancelled_by_warehouse` exception asks CX to settle it with the customer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sync_pipeline.lib.domain.diff import PAID_STATUSES, EventKind, OrderEvent, describe_changes
from sync_pipeline.lib.domain.models import ShopOrder

AWAITING_PAYMENT = "awaiting_payment"
AWAITING_RELEASE = "awaiting_release"
HELD = "held"
NOT_FOR_WAREHOUSE = "not_for_warehouse"
TOO_OLD = "too_old"
CANCELLED_BEFORE_RELEASE = "cancelled_before_release"
INJECTING = "injecting"
INJECTION_FAILED = "injection_failed"
IN_WAREHOUSE = "in_warehouse"
CANCELLED_IN_WAREHOUSE = "cancelled_in_warehouse"
CANCELLED_BY_WAREHOUSE = "cancelled_by_warehouse"

# Once Peoplevox may have the order, Shopify changes are changes to push (or to flag), never a
# reason to re-release.
WAREHOUSE_STATES = frozenset({INJECTING, IN_WAREHOUSE, CANCELLED_IN_WAREHOUSE, CANCELLED_BY_WAREHOUSE})
# Still ours: a change just re-evaluates the order at release.
PRE_RELEASE_STATES = frozenset(
    {AWAITING_PAYMENT, AWAITING_RELEASE, HELD, NOT_FOR_WAREHOUSE, CANCELLED_BEFORE_RELEASE, INJECTION_FAILED}
)
# Exceptions that hold an order before release (opened by translation, closed when it goes on).
HOLD_EXCEPTIONS = ("unmapped_sku", "bad_address", "unsendable_text")
# Everything that stops an order on its way to the warehouse: a hold, or Peoplevox's refusal.
# An edit re-evaluates such an order and the warehouse accepting it ends them all; once it is
# past release for good (cancelled, not for the warehouse) none can still apply.
PRE_RELEASE_EXCEPTIONS = (*HOLD_EXCEPTIONS, "injection_failed")
# Verdicts the release step reached that only an edit of the order can change.
SETTLED_UNTIL_EDITED = frozenset({HELD, NOT_FOR_WAREHOUSE, INJECTION_FAILED})
# Changes the warehouse may need to hear about: the release step plans each one against what
# Peoplevox holds (shipping method, email, phone and tags can change the service, contact or
# route; a refund can leave nothing to ship for) and pushes it, raises it, or finds nothing to do.
MATERIAL_CHANGES = frozenset(
    {
        EventKind.CANCELLED,
        EventKind.REFUNDED,
        EventKind.LINES_CHANGED,
        EventKind.ADDRESS_CHANGED,
        EventKind.EDITED,
    }
)
# Money that has been captured: the order may ship. REFUNDED alone means nothing is left to pay
# for, so a fully refunded order is not released.
RELEASABLE_STATUSES = frozenset(PAID_STATUSES - {"REFUNDED"})


@dataclass(frozen=True)
class Previous:
    """What the ledger knew of the order before this read."""

    state: str
    order: ShopOrder | None
    paid_at: datetime | None
    release_due_at: datetime | None
    change_pending: bool


@dataclass(frozen=True)
class Observation:
    state: str
    paid_at: datetime | None
    release_due_at: datetime | None
    change_pending: bool
    events: list[OrderEvent] = field(default_factory=list)
    changed: bool = True


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def observe(
    previous: Previous | None, order: ShopOrder, now: datetime, hold_seconds: int, max_age_days: int
) -> Observation:
    before = previous.order if previous else None
    events = describe_changes(before, order)
    if previous is not None and not events and before == order:
        return Observation(
            previous.state,
            previous.paid_at,
            previous.release_due_at,
            previous.change_pending,
            [],
            changed=False,
        )
    if previous is not None and before is not None and _aware(order.updated_at) < _aware(before.updated_at):
        # A stale read (Shopify's search index lags, or an older copy within one read): the
        # ledger already holds a newer version, which must not be overwritten.
        return Observation(
            previous.state,
            previous.paid_at,
            previous.release_due_at,
            previous.change_pending,
            [],
            changed=False,
        )
    kinds = {e.kind for e in events}
    paid = order.financial_status.upper() in RELEASABLE_STATUSES
    if (
        previous is not None
        and previous.state in SETTLED_UNTIL_EDITED
        and not events
        and not order.is_cancelled
    ):
        # Touched without a change the rules read (e.g. only updatedAt moved): keep the verdict
        # instead of re-releasing and re-opening the same exceptions on every touch.
        return Observation(
            previous.state, previous.paid_at, previous.release_due_at, previous.change_pending, []
        )

    if previous is not None and previous.state in WAREHOUSE_STATES:
        # The warehouse may have it: flag material changes for the release step to push or
        # to raise as change_after_cutoff. Never silently dropped.
        pending = previous.change_pending or bool(kinds & MATERIAL_CHANGES)
        return Observation(previous.state, previous.paid_at, previous.release_due_at, pending, events)

    paid_at = previous.paid_at if previous and previous.paid_at else None
    if paid and paid_at is None:
        # First seen already paid: the hold window runs from when Shopify processed it, so a slow
        # poll does not add to the wait. A later transition to paid runs from when we saw it.
        paid_at = _aware(order.processed_at or order.created_at) if previous is None else now

    # Decided when first seen, whatever the payment status, and final: an old order paid, refunded
    # or cancelled later must still never be sent automatically.
    if previous is None and now - _aware(order.created_at) > timedelta(days=max_age_days):
        return Observation(TOO_OLD, paid_at, None, False, events)
    if previous is not None and previous.state == TOO_OLD:
        return Observation(TOO_OLD, paid_at, None, False, events)
    if order.is_cancelled:
        return Observation(CANCELLED_BEFORE_RELEASE, paid_at, None, False, events)
    if not paid:
        return Observation(AWAITING_PAYMENT, paid_at, None, False, events)
    assert paid_at is not None
    # A held or refused order that was edited goes back in the queue with its original due
    # time (usually past): the edit is the fix, and it was already held for the window.
    return Observation(AWAITING_RELEASE, paid_at, paid_at + timedelta(seconds=hold_seconds), False, events)
