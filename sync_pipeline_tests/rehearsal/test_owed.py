"""The orders the rehearsal waits for and accounts for: one set, the same everywhere."""

from datetime import datetime

from sync_pipeline.rehearsal.peak import PeakResult
from sync_pipeline.rehearsal.sale import Placed, Sale
from sync_pipeline.rehearsal.stock_watch import Shared


def test_owed_is_the_sale_less_cancellations_plus_the_scarce_shoppers_orders() -> None:
    at = datetime(2026, 11, 27, 9)
    sale = Sale(planned=3, placed=[Placed("SHP-1", "#1001", "single", at), Placed("SHP-2", "#1002", "cancel_in_hold", at),
                                   Placed("SHP-3", "#1003", "edit_in_hold", at)])  # fmt: skip
    stock = Shared(orders=[("SHP-9", "SCARCE-1", 2)])
    assert PeakResult(sale, stock, []).owed == {"SHP-1", "SHP-3", "SHP-9"}
