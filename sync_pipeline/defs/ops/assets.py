from datetime import UTC, datetime

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.markdown import rows_table
from sync_pipeline.defs.resources import BusinessRulesResource, LedgerResource
from sync_pipeline.lib.domain.exception_catalogue import OWNER_TITLES, Owner
from sync_pipeline.lib.domain.impact import Priority
from sync_pipeline.lib.flows.ops.export import write_csv
from sync_pipeline.lib.flows.ops.ranking import RankedException
from sync_pipeline.lib.flows.ops.run import refresh

EXCEPTIONS_KEY = brand.key("ops", "exceptions")
TOP = 20
# The alert digest sensor reads these from the latest materialisation (sensors never open the ledger).
P1_METADATA = "p1_exceptions"
TABLE_HEADER = "| # | pri | impact | kind | order | age h | h to deadline | value | what |\n|---:|---|---:|---|---|---:|---:|---:|---|"


def check_name(owner: Owner) -> str:
    return f"{owner.value}_p1_within_threshold"


def _table_rows(items: list[RankedException]) -> list[tuple]:
    return [
        (
            r.rank, r.priority.value, f"{r.impact:.1f}", f"`{r.kind}`", r.order_name or r.subject or "—",
            f"{r.age_hours:.1f}", "—" if r.hours_to_deadline is None else f"{r.hours_to_deadline:.1f}",
            "—" if r.value_at_risk is None else f"{r.value_at_risk:,.2f} {r.currency or ''}".strip(),
            r.message.replace("|", "/").replace("\n", " ")[:140],
        )
        for r in items
    ]  # fmt: skip


def _p1_summary(ranked: list[RankedException]) -> list[dict]:
    return [
        {
            "id": r.exception_id, "kind": r.kind, "owner": r.owner, "impact": r.impact,
            "order": r.order_name, "subject": r.subject, "age_hours": r.age_hours, "message": r.message[:200],
        }
        for r in ranked
        if r.priority is Priority.P1
    ][:200]  # fmt: skip


@dg.asset(
    key=EXCEPTIONS_KEY,
    group_name="operations",
    kinds={"duckdb", "csv"},
    owners=["team:integration"],
    tags={"domain": "operations"},
    pool=brand.LEDGER,
    check_specs=[dg.AssetCheckSpec(check_name(o), asset=EXCEPTIONS_KEY) for o in Owner],
)
def ops_exceptions(
    context: dg.AssetExecutionContext, ledger: LedgerResource, business_rules: BusinessRulesResource
) -> dg.MaterializeResult:
    """Every open exception across the flows, in one list ranked by impact, with its owner.

    Each run first re-checks every open exception against the ledger and closes the ones whose
    condition has cleared (the order went to the warehouse or was cancelled, the package reached
    Shopify, the tracking number arrived), recording why on the exception and in the order's
    history. Kinds only a person can close stay open until someone runs `sync-pipeline exceptions
    resolve`. The rest are scored (value at risk, time left before the despatch deadline, B2B,
    SKU velocity: docs/runbook.md, "Priority and impact") and ranked.

    Below: one table per owner (their top 20), counts by owner and priority, and the full list
    as a CSV under `data/exports/exceptions/`. Each owner's check fails when one of their P1
    exceptions has been open longer than their threshold (`ops.yaml: p1_age_hours`).
    """
    config = business_rules.load().ops
    now = datetime.now(UTC).replace(tzinfo=None)
    report = refresh(ledger.get_ledger(), config, now, actor=f"run:{context.run.run_id}")
    ranked = report.ranked
    csv_path = write_csv(ranked, ledger.data_path / "exports" / "exceptions" / "open_exceptions.csv")

    counts = "| owner | P1 | P2 | P3 | total |\n|---|---:|---:|---:|---:|\n" + "\n".join(
        f"| {OWNER_TITLES[o]} | "
        + " | ".join(str(sum(1 for r in ranked if r.owner == o.value and r.priority is p)) for p in Priority)
        + f" | {sum(1 for r in ranked if r.owner == o.value)} |"
        for o in Owner
    )
    metadata: dict[str, object] = {
        "open": len(ranked),
        "p1": sum(1 for r in ranked if r.priority is Priority.P1),
        "closed_on_recheck": len(report.closed),
        "by_owner": dg.MetadataValue.md(counts),
        "closed_now": rows_table(
            [(c.exception_id, f"`{c.kind}`", c.order_name or "—", c.resolution) for c in report.closed],
            "| id | kind | order | why |\n|---:|---|---|---|",
        ),
        "csv": dg.MetadataValue.path(str(csv_path)),
        P1_METADATA: dg.MetadataValue.json(_p1_summary(ranked)),
        "dagster/row_count": len(ranked),
    }
    for owner in Owner:
        mine = [r for r in ranked if r.owner == owner.value]
        metadata[f"top_{owner.value}"] = rows_table(_table_rows(mine), TABLE_HEADER, limit=TOP)

    checks = []
    for owner in Owner:
        limit = config.p1_age_limit(owner.value)
        late = [
            r for r in ranked if r.owner == owner.value and r.priority is Priority.P1 and r.age_hours > limit
        ]
        checks.append(
            dg.AssetCheckResult(
                check_name=check_name(owner),
                passed=not late,
                severity=dg.AssetCheckSeverity.WARN,
                description=f"{len(late)} P1 exception(s) of {OWNER_TITLES[owner]} open longer than {limit:g} h",
                metadata={
                    "late_p1": len(late),
                    "threshold_hours": limit,
                    "exceptions": rows_table(_table_rows(late), TABLE_HEADER, limit=TOP),
                },
            )
        )
    return dg.MaterializeResult(metadata=metadata, check_results=checks)  # type: ignore[arg-type]
