"""`batch_orders`: a fulfil run reads and plans only what it can send before its deadline (an order
read and not sent is read again next run, at the full price of the fulfilment-state read)."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.flows.despatches.fulfil import BATCH_ORDERS, FIRST_BATCH_PER_SENDER, batch_orders


def test_the_first_batch_is_a_few_orders_a_sender() -> None:
    assert batch_orders(0, 0.0, 60.0, 8) == 8 * FIRST_BATCH_PER_SENDER
    assert batch_orders(0, 0.0, 60.0, 100) == BATCH_ORDERS


def test_later_batches_follow_the_runs_own_rate_to_its_deadline() -> None:
    # 40 orders done in 10 s, 20 s left: about 80 more (with the margin), not the whole 200.
    assert 80 <= batch_orders(40, 10.0, 20.0, 8) <= 100
    # Slow (a busy ledger, a slow Shopify): a small batch, never fewer than one a sender.
    assert batch_orders(5, 30.0, 1.0, 8) == 8
    # Past the deadline the loop stops anyway; the size stays sane.
    assert batch_orders(5, 30.0, -3.0, 8) == 8


@settings(max_examples=50, deadline=None)
@given(
    done=st.integers(0, 5000),
    elapsed=st.floats(0, 600),
    remaining=st.floats(-10, 600),
    concurrency=st.integers(1, 32),
)
# A rate over a tiny elapsed time is infinite; times no time left is NaN (both raised).
@example(done=1, elapsed=2.2250738585e-313, remaining=1.0, concurrency=1)
@example(done=1, elapsed=2.2250738585e-313, remaining=0.0, concurrency=1)
def test_a_batch_is_never_empty_nor_over_the_cap(
    done: int, elapsed: float, remaining: float, concurrency: int
) -> None:
    size = batch_orders(done, elapsed, remaining, concurrency)
    assert 1 <= size <= max(BATCH_ORDERS, concurrency)
