"""The audit as a markdown report (for the record) and a short terminal summary."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sync_pipeline.lib.domain.text import visible_text
from sync_pipeline.lib.flows.ops.audit import AuditResult
from sync_pipeline.lib.flows.ops.audit_rules import Severity

ORDER = (Severity.CRITICAL, Severity.WARNING, Severity.INFO)
MARK = {Severity.CRITICAL: "CRITICAL", Severity.WARNING: "warning", Severity.INFO: "ok"}


def markdown(result: AuditResult, at: datetime, brand: str | None) -> str:
    counts = {s: sum(1 for f in result.findings if f.severity is s) for s in ORDER}
    lines = [
        f"# System audit{f' — {brand}' if brand else ''}, {at:%Y-%m-%d %H:%M} UTC",
        "",
        f"{counts[Severity.CRITICAL]} critical, {counts[Severity.WARNING]} warning(s), {counts[Severity.INFO]} "
        f"note(s); took {result.took_seconds} s. Read-only: nothing was changed in Shopify, Peoplevox or the ledger.",
        "",
    ]
    for severity in ORDER:
        found = [f for f in result.findings if f.severity is severity]
        if not found:
            continue
        lines += [f"## {severity.value.capitalize()}", ""]
        for f in found:
            lines.append(f"- **{f.area}**: {visible_text(f.title)}")
            lines += [f"  - {visible_text(d)}" for d in f.detail]
        lines.append("")
    return "\n".join(lines)


def write(result: AuditResult, exports_dir: Path, at: datetime, brand: str | None) -> Path:
    path = exports_dir / "audit" / f"audit-{at:%Y%m%dT%H%M%SZ}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(result, at, brand), encoding="utf-8")
    return path


def summary(result: AuditResult) -> str:
    lines = []
    for severity in ORDER:
        for f in (f for f in result.findings if f.severity is severity):
            lines.append(f"{MARK[severity]:8}  {f.area:13}  {visible_text(f.title)}")
            if severity is not Severity.INFO:
                lines += [f"{'':25}{visible_text(d)}" for d in f.detail[:5]]
    return "\n".join(lines)
