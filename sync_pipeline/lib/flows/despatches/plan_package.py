"""Plan one package: the checks before it can go (cancelled order, tracking number, carrier), then
its units as whole Shopify line units (`domain.fulfilment.allocate`), then where it goes
(`placement.py`). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sync_pipeline.lib.domain.config import BusinessRules, WithoutTracking
from sync_pipeline.lib.domain.fulfilment import FulfilmentOrderLine, LineNeed, allocate
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.tracking import tracking_for
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.decision import Decision, package_exception, units
from sync_pipeline.lib.flows.despatches.placement import place
from sync_pipeline.lib.ledger import ExceptionRecord
from sync_pipeline.lib.ledger.despatches import PackageRow


def plan_package(
    order: ShopOrder,
    p: PackageRow,
    needs: Sequence[LineNeed],
    accounted: Mapping[str, int],
    pool: Mapping[str, int],
    fo_lines: Sequence[FulfilmentOrderLine],
    cancelled: bool,
    order_missing: bool,
    rules: BusinessRules,
    now: datetime,
    warehouse: str | None,
) -> Decision:
    config = rules.despatches
    number = p.package_number
    if order_missing:
        return Decision(number, states.PENDING, "Shopify did not return the order; tried again next run")
    if cancelled:
        return _cancelled(order, p)
    exceptions: list[ExceptionRecord] = []
    waited = now - p.first_seen_at
    if not p.tracking_number:
        if waited < timedelta(minutes=config.tracking_wait_minutes):
            return Decision(number, states.AWAITING_TRACKING, "waiting for the carrier's tracking number")
        missing = package_exception(
            "tracking_missing",
            f"package {number} has had no tracking number for {int(waited.total_seconds() // 60)} min after despatch"
            + ("; fulfilled without it, the number is added when Peoplevox has it"
               if config.without_tracking is WithoutTracking.FULFIL else "; waiting for it before fulfilling"),
            order,
            p,
        )  # fmt: skip
        if config.without_tracking is WithoutTracking.WAIT:
            return Decision(
                number, states.AWAITING_TRACKING, "still no tracking number", exceptions=[missing]
            )
        exceptions.append(missing)
    tracking = tracking_for(rules.carriers, p.carrier, p.service, p.tracking_number)
    if not tracking.known_carrier:
        exceptions.append(
            package_exception("unknown_carrier", f"carrier {p.carrier!r} / service {p.service!r} of package {number} has no "
                       "rule in carriers.yaml; sent to Shopify under that name, without a tracking link", order, p)
        )  # fmt: skip
    allocation = allocate(needs, accounted, pool, p.items)
    if allocation.excess:
        extra = ", ".join(f"{q} × {c}" for c, q in allocation.excess.items())
        exceptions.append(
            package_exception("over_despatched", f"package {number} shipped more than {order.name} ordered: {extra} "
                       "(not fulfilled in Shopify; check what left the warehouse)", order, p)
        )  # fmt: skip
    if not allocation.lines:
        return Decision(
            number,
            states.POOLED,
            "its units complete no Shopify line yet (part of a bundle)",
            excess=dict(allocation.excess),
            exceptions=exceptions,
        )
    return place(order, p, allocation, fo_lines, tracking, exceptions, warehouse)


def _cancelled(order: ShopOrder, p: PackageRow) -> Decision:
    number, what = p.package_number, units(p)
    return Decision(
        number,
        states.BLOCKED,
        "order cancelled in Shopify",
        exceptions=[
            package_exception("shipped_after_cancel", f"{order.name} was cancelled in Shopify but Peoplevox shipped "
                       f"package {number} ({what}); contact the customer about the parcel", order, p),
            package_exception("shipped_after_cancel_refunded", f"{order.name} was cancelled (and refunded) but package "
                       f"{number} shipped ({what}); recover the goods or charge for them", order, p),
        ],
    )  # fmt: skip
