"""Markdown tables for asset and check metadata, as the Dagster UI shows them (every flow uses these)."""

import dagster as dg


def count_table(header: tuple[str, str], rows: dict[str, int]) -> dg.MetadataValue:
    """A two-column table of counts: `(what, how many)`."""
    lines = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    lines += [f"| {k} | {v:,} |" for k, v in rows.items()] or ["| (none) | 0 |"]
    return dg.MetadataValue.md("\n".join(lines))


def rows_table(rows: list[tuple], header: str, limit: int = 25) -> dg.MetadataValue:
    """The first `limit` rows under a markdown `header` (its `|---|` line included)."""
    body = "\n".join("| " + " | ".join(str(c) for c in r) + " |" for r in rows[:limit])
    return dg.MetadataValue.md(header + "\n" + (body or "| (none) |"))
