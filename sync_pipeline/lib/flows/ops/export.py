"""The ranked list as a CSV file for people who live in spreadsheets (written atomically)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from sync_pipeline.lib.domain.text import label_text
from sync_pipeline.lib.flows.ops.ranking import RankedException

COLUMNS = (
    "rank", "priority", "impact", "owner", "kind", "age_hours", "hours_to_deadline", "order_name",
    "sales_order_number", "subject", "value_at_risk", "currency", "b2b", "units_per_day", "occurrences",
    "opened_at", "exception_id", "shopify_order_id", "message",
)  # fmt: skip
TEXT_COLUMNS = {"order_name", "sales_order_number", "subject", "message", "shopify_order_id"}


def to_csv(ranked: Sequence[RankedException]) -> str:
    """Free text goes through the project's one label/formula rule (lib/domain/text.label_text),
    so a message such as `=HYPERLINK(…)` from a customer's field is shown, never run."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for item in ranked:
        row = item.as_json()
        writer.writerow(
            [
                label_text(str(row[c] or "")) if c in TEXT_COLUMNS else ("" if row[c] is None else row[c])
                for c in COLUMNS
            ]
        )
    return out.getvalue()


def write_csv(ranked: Sequence[RankedException], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(to_csv(ranked), encoding="utf-8")
    os.replace(tmp, path)
    return path
