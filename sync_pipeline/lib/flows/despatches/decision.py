"""What the plan says about one package (`Decision`), and the exceptions it carries.

Shared by the plan (`plan.py`, `plan_package.py`, `placement.py`), the moves (`move.py`) and the
sends (`answers.py`). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sync_pipeline.lib.domain.fulfilment import Move
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.tracking import Tracking
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.ledger import ExceptionRecord
from sync_pipeline.lib.ledger.despatches import PackageRow


@dataclass
class Decision:
    package_number: str
    state: str  # the package's next state (FULFILLING: send `request`)
    reason: str
    line_quantities: dict[str, int] = field(default_factory=dict)
    # Item units shipped that no line of the order can use: recorded on the package when it settles.
    excess: dict[str, int] = field(default_factory=dict)
    request: dict[str, dict[str, int]] = field(default_factory=dict)
    # line id → units `request` holds (what the Shopify fulfilment will show; without units
    # Shopify already had fulfilled by hand, which `line_quantities` includes).
    placed: dict[str, int] = field(default_factory=dict)
    location_id: str | None = None
    tracking: Tracking | None = None
    exceptions: list[ExceptionRecord] = field(default_factory=list)
    location_name: str | None = None  # of `location_id`, for the people reading exceptions
    # MOVING: bring the package's lines to one location first (then it is planned again).
    moves: list[Move] = field(default_factory=list)
    # MOVING a package that could go as one fulfilment where it is: what to do if Shopify refuses
    # the move (`fulfil_away`). None: refused, the package waits whole.
    instead: Decision | None = None
    # FULFILLING: the pooled packages whose tracking numbers its fulfilment carries (package, number).
    carries: list[tuple[str, str | None]] = field(default_factory=list)


def package_exception(kind: str, message: str, order: ShopOrder, package: PackageRow) -> ExceptionRecord:
    return ExceptionRecord(
        kind=kind,
        owner=states.OWNERS[kind],
        message=message,
        shopify_order_id=order.id,
        sales_order_number=package.sales_order_number,
        subject=package.package_number,
    )


def units(package: PackageRow) -> str:
    """`2 × TEE-BLK-M, 1 × CAP-NVY`: what a package holds, for exception messages."""
    return ", ".join(f"{q} × {c}" for c, q in package.items.items())


def fulfil_away(here: Decision, order: ShopOrder, p: PackageRow, why: str) -> Decision:
    """A package wholly at a location that is not the warehouse's, which Shopify will not move: it is
    fulfilled there all the same (the customer's shipping email, a store capturing payment on
    fulfilment, matter more than that location's stock count), and warehouse ops are told to
    correct that stock."""
    problem = package_exception(
        "fulfilled_away_from_warehouse",
        f"{order.name}: package {p.package_number} ({units(p)}) left the warehouse, but Shopify had its lines at "
        f"{here.location_name} and would not move them to the warehouse's location ({why}); fulfilled from "
        f"{here.location_name}, so Shopify took those units off {here.location_name}'s stock: add them back there",
        order,
        p,
    )
    return replace(
        here, reason=f"fulfilled from {here.location_name}: {why}", exceptions=[*here.exceptions, problem]
    )
