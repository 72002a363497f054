"""Peoplevox Integration Service client: SOAP 1.1 with CSV payloads over httpx.

No Dagster imports; the flows wrap `PeoplevoxClient` in a resource.
"""

from sync_pipeline.lib.peoplevox import clauses
from sync_pipeline.lib.peoplevox.client import DataPage, PeoplevoxClient, SaveAction
from sync_pipeline.lib.peoplevox.errors import (
    PeoplevoxAuthError,
    PeoplevoxError,
    PeoplevoxFault,
    PeoplevoxSessionError,
    PeoplevoxUnavailable,
    SaveOutcomeUnknown,
    SaveTooLarge,
)
from sync_pipeline.lib.peoplevox.models import (
    DespatchSummaryRow,
    ItemInventorySummaryRow,
    ItemType,
    SalesOrder,
    SalesOrderItem,
)
from sync_pipeline.lib.peoplevox.save_results import RowResult, SaveResult

__all__ = [
    "DataPage",
    "DespatchSummaryRow",
    "ItemInventorySummaryRow",
    "ItemType",
    "PeoplevoxAuthError",
    "PeoplevoxClient",
    "PeoplevoxError",
    "PeoplevoxFault",
    "PeoplevoxSessionError",
    "PeoplevoxUnavailable",
    "RowResult",
    "SalesOrder",
    "SalesOrderItem",
    "SaveAction",
    "SaveOutcomeUnknown",
    "SaveResult",
    "SaveTooLarge",
    "clauses",
]
