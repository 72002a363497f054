"""Markdown tables for asset and check metadata, as the Dagster UI shows them (every flow uses these)."""

import dagster as dg


def cell(value: object) -> str:
    """A value as one table cell: a `|` would start a new cell and a line break a new row (text from
    Shopify or Peoplevox may hold either, e.g. a sales order number keyed in by hand), so a pipe is
    escaped and a line break shown as `\\n`."""
    text = str(value).replace("\\", "\\\\").replace("|", "\\|")
    return text.replace("\r", "\\r").replace("\n", "\\n")


def count_table(header: tuple[str, str], rows: dict[str, int]) -> dg.MetadataValue:
    """A two-column table of counts: `(what, how many)`."""
    lines = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    lines += [f"| {cell(k)} | {v:,} |" for k, v in rows.items()] or ["| (none) | 0 |"]
    return dg.MetadataValue.md("\n".join(lines))


def rows_table(rows: list[tuple], header: str, limit: int = 25) -> dg.MetadataValue:
    """The first `limit` rows under a markdown `header` (its `|---|` line included)."""
    body = "\n".join("| " + " | ".join(cell(c) for c in r) + " |" for r in rows[:limit])
    return dg.MetadataValue.md(header + "\n" + (body or "| (none) |"))
