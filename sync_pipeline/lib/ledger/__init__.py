"""The ledger: a DuckDB file that is the product's memory. All SQL in the project lives here.

Use `Ledger(path)`; every method opens the file for one short transaction and closes it, so no
caller can hold it across a network call. Modules by concern: `connection` (locking and
retry), `schema` (forward-only migrations), `cursors`, `events` (audit log), `exceptions`.
"""

from sync_pipeline.lib.ledger.connection import LedgerBusyError
from sync_pipeline.lib.ledger.ledger import Ledger
from sync_pipeline.lib.ledger.records import ExceptionRecord, OpenException, OrderEvent, utcnow

__all__ = ["ExceptionRecord", "Ledger", "LedgerBusyError", "OpenException", "OrderEvent", "utcnow"]
