"""What one despatches run did, for the assets' metadata and the sensor."""

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class FulfilReport:
    orders_planned: int = 0
    fulfilled: int = 0
    fulfilled_elsewhere: int = 0
    pooled: int = 0
    blocked: int = 0
    awaiting_tracking: int = 0
    refused: int = 0
    outcome_unknown: int = 0
    in_doubt: Counter[str] = field(default_factory=Counter)
    # Orders another fulfil run moved on between our read and our write-ahead: left to it.
    left_to_another_run: int = 0
    # Packages written ahead that the run did not send because its time budget ran out, or that
    # Shopify certainly did not take (throttled until the client gave up): back to `pending` for
    # the next run, which the sensor starts at once (`caught_up` False).
    left_for_next_run: int = 0
    # Orders whose fulfilment state (or the shop's locations) Shopify kept THROTTLED until the client
    # gave up, at its attempts or the step's deadline: nothing written ahead for them, left for the
    # next run (`caught_up` False); the step itself ends normally.
    orders_not_read: int = 0
    # Times the run moved its deadline on past its budget because no other step waited for
    # Shopify (`run.py`, "Running on").
    ran_on: int = 0
    # fulfillmentOrderMove calls: moved, refused, outcome_unknown.
    moves: Counter[str] = field(default_factory=Counter)
    tracking_added: int = 0
    # Fulfilments of ours found cancelled in Shopify this run (`cancelled.py`): CX exception each.
    fulfilments_cancelled: int = 0
    # Orders due that check whose fulfilments Shopify kept THROTTLED: checked next run.
    cancel_checks_not_read: int = 0
    tracking_refused: int = 0  # late tracking numbers Shopify refused (exception `tracking_refused`)
    exceptions_opened: int = 0
    order_states: Counter[str] = field(default_factory=Counter)
    fulfilments: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # package, fulfilment name, tracking
    # False when the run stopped at its time limit with packages it had not tried (the sensor
    # starts the next run at once).
    caught_up: bool = True

    @property
    def summary(self) -> dict[str, int]:
        return {
            "orders_planned": self.orders_planned,
            "fulfilled": self.fulfilled,
            "fulfilled_elsewhere": self.fulfilled_elsewhere,
            "pooled": self.pooled,
            "blocked": self.blocked,
            "awaiting_tracking": self.awaiting_tracking,
            "refused": self.refused,
            "outcome_unknown": self.outcome_unknown,
            "tracking_added": self.tracking_added,
            "tracking_refused": self.tracking_refused,
            "fulfilments_cancelled_in_shopify": self.fulfilments_cancelled,
            "cancel_checks_not_read": self.cancel_checks_not_read,
            "exceptions_opened": self.exceptions_opened,
            "left_to_another_run": self.left_to_another_run,
            "left_for_next_run": self.left_for_next_run,
            "orders_not_read": self.orders_not_read,
            "budget_extended": self.ran_on,
        }
