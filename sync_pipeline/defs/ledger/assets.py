import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.resources import LedgerResource


@dg.asset(
    key=brand.key("ledger", "schema"),
    group_name="ledger",
    kinds={"duckdb"},
    owners=["team:integration"],
    pool=brand.LEDGER,
    tags={"domain": "platform"},
)
def ledger_schema(ledger: LedgerResource) -> dg.MaterializeResult:
    """The ledger database (DuckDB) at its newest schema version.

    Applies any pending forward-only migration, then reports how many rows each table holds:
    orders, order lines, the audit log, Peoplevox injections, despatches, fulfilments, stock,
    exceptions and sync cursors. Every flow writes here; finance and BI read exported files.
    """
    book = ledger.get_ledger()
    applied = book.migrate()
    counts = book.row_counts()
    table = "| table | rows |\n|---|---:|\n" + "\n".join(f"| {t} | {n:,} |" for t, n in counts.items())
    return dg.MaterializeResult(
        metadata={
            "schema_version": book.schema_version(),
            "migrations_applied_now": len(applied),
            "tables": dg.MetadataValue.md(table),
            "dagster/row_count": sum(counts.values()),
        }
    )
