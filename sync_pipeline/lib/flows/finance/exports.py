"""Where finance's files go and the one text rule their CSV cells follow."""

from __future__ import annotations

from sync_pipeline.lib.domain.text import FORMULA_PREFIXES, NUMBER_LIKE
from sync_pipeline.lib.ledger.finance_exports import CellRule

# The Peoplevox label rule (lib/domain/text.py), applied by DuckDB to every text cell.
CELL_RULE = CellRule(starts=FORMULA_PREFIXES, harmless=NUMBER_LIKE)
