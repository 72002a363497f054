"""The fulfil step, in this order:

1. **In doubt first.** Fulfilments left `sending` are looked up in Shopify; found → recorded,
   not found → planned again. Nothing is created twice.
2. **Plan and fulfil** every open package, order by order (`plan`, `fulfil`).
3. **Cancelled in Shopify**: orders changed in Shopify since our last write to them have their
   fulfilments read; one of ours cancelled there is recorded, with a CX exception (`cancelled.py`).
4. **Late tracking** goes onto fulfilments created without it.

The step holds the `shopify_fulfil` pool, which the next despatch run's fulfil step waits for, so
all three share one time budget (`fulfil_max_seconds`): past it, each stops starting new work (each
does at least one unit, so a run always makes progress) and the report says `caught_up=False`, so
the sensor starts the next run at once, after whatever else waits for the pool. (Until session 9
the pool was `shopify_api`, which the orders ingest waited for too.)

**Running on.** The budget is there for the steps that wait for the pool. When none does
(`others_waiting`, from Dagster's pool records), plan-and-fulfil keeps its deadline
`RUN_ON_SECONDS` (or one budget, if longer) ahead, batch after batch, rather than ending and
leaving the backlog to a run that is still starting up: at a despatch peak the next run's start-up
and Peoplevox read took longer than a step, and the pool sat idle 6-43 s between steps (session 7). A run goes on for at most
`RUN_ON_STEPS` such steps from its start (5 min: 15 budgets at the 20 s default), so its metadata and the ledger's run history stay current. The
step is independent of the budget: batches are sized to the deadline, and each deadline passed puts
back what the batch wrote ahead and did not send (read again at ~12 Shopify points an order), so a
deadline moved on every 20 s would cost that three times a minute.

**Handing over.** Once a step has had its budget, it asks between waves (at most every
`ASK_SECONDS`) whether another step now waits, and if so ends there, even inside a deadline it
moved on while nobody waited (`RunOn.hand_over`). Each despatches run reads Peoplevox once, and
the sensor starts the run after next only when the waiting one gets the pool, so how soon a step
hands over is how often despatches are read. Until session 10 a step that had moved its deadline
on kept to it: the next run's read was in ~20 s into a step and then waited up to a whole budget,
so reads came one a minute or less and a package waited ~30 s on average just to be read.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.flows.despatches.cancelled import notice_cancelled_fulfilments
from sync_pipeline.lib.flows.despatches.fulfil import fulfil_open_packages
from sync_pipeline.lib.flows.despatches.in_doubt import SETTLE_SECONDS, resolve_in_doubt
from sync_pipeline.lib.flows.despatches.ports import Storefront
from sync_pipeline.lib.flows.despatches.report import FulfilReport
from sync_pipeline.lib.flows.despatches.tracking import post_late_tracking
from sync_pipeline.lib.ledger import Ledger

# While nobody waits, a step's deadline moves on this far (or one budget, if longer) at a time...
RUN_ON_SECONDS = 60.0
# ...until this many such steps have passed since the step began (5 min at 60 s, which is 15
# budgets at the 20 s default: not five budgets).
RUN_ON_STEPS = 5
# Past its budget a step asks Dagster's pool records whether another step waits at most this often
# (a small query on the instance's database, asked between waves).
ASK_SECONDS = 1.0


class RunOn:
    """Moves a step's deadline on while no other step waits for the pool, up to a hard limit."""

    def __init__(self, others_waiting: Callable[[], bool], budget: float, started: float) -> None:
        self.others_waiting = others_waiting
        self.budget = budget
        self.budget_ends = started + budget
        self.step = max(budget, RUN_ON_SECONDS)
        self.until = started + self.step * RUN_ON_STEPS
        self.extended = 0  # times the deadline moved on
        self._next_ask = 0.0
        self._waiting = False

    def __call__(self, deadline: float) -> float:
        """The deadline to keep to from now: one run-on step ahead if nobody waits, else unchanged."""
        now = time.monotonic()
        ahead = min(self.until, now + self.step)
        if ahead <= deadline or self.others_waiting():
            return deadline
        self.extended += 1
        return ahead

    def hand_over(self) -> bool:
        """True once the step has had its budget and another step waits for the pool: start no new
        work, whatever deadline it moved on to while nobody waited."""
        now = time.monotonic()
        if now < self.budget_ends:
            return False
        if now >= self._next_ask:
            self._next_ask = now + ASK_SECONDS
            self._waiting = self.others_waiting()
        return self._waiting


def fulfil(
    storefront: Storefront,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    max_seconds: float | None = None,
    settle_seconds: float = SETTLE_SECONDS,
    others_waiting: Callable[[], bool] | None = None,
) -> FulfilReport:
    """`max_seconds`: the step's time budget (None: `fulfil_max_seconds` from despatches.yaml).
    `others_waiting`: True while another step waits for the `shopify_fulfil` pool (None: nobody can tell,
    so the step keeps to its budget)."""
    report = FulfilReport()
    budget = rules.despatches.fulfil_max_seconds if max_seconds is None else max_seconds
    started = time.monotonic()
    deadline = started + budget
    run_on = RunOn(others_waiting, budget, started) if others_waiting is not None else None
    doubts_done = resolve_in_doubt(storefront, ledger, rules, actor, report, settle_seconds, deadline)
    deadline = fulfil_open_packages(
        storefront, ledger, rules, actor, report, deadline, settle_seconds, run_on
    )
    notice_cancelled_fulfilments(storefront, ledger, rules, actor, report, deadline)
    tracking_done = post_late_tracking(storefront, ledger, rules, actor, report, deadline)
    report.ran_on = run_on.extended if run_on is not None else 0
    # A package put back to `pending` (budget, or Shopify throttling it), or an order whose read
    # Shopify throttled, wants the next run now.
    report.caught_up = (
        report.caught_up
        and doubts_done
        and tracking_done
        and not report.left_for_next_run
        and not report.orders_not_read
    )
    return report
