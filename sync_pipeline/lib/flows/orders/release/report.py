"""What one release run did, for the asset's metadata and the sensor."""

from collections import Counter
from dataclasses import dataclass, field


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
    superseded: int = 0  # re-read as no longer releasable, or another version ingested meanwhile
    injected_orders: list[tuple[str, str, str]] = field(default_factory=list)  # name, number, site
    # Items queued for the stock flow: orders whose units stopped (or started) awaiting allocation
    # as this run recorded Peoplevox's status (an in-doubt injection found allocated, a change push
    # that read the status), queued in the transaction that records it, as a status run does.
    stock_items_hinted: int = 0
    # False: the run stopped at its time budget with orders still due (the sensor runs it again).
    caught_up: bool = True

    @property
    def summary(self) -> dict[str, int | bool]:
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
            "caught_up": self.caught_up,
        }
