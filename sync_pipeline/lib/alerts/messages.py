"""What an alert says: one run failure, or one digest of new top-priority exceptions and failed checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sync_pipeline.lib.domain.exception_catalogue import OWNER_TITLES, Owner
from sync_pipeline.lib.domain.text import visible_text

MAX_ITEMS = 30  # per digest: more is a link to ops/exceptions, not a wall of text


@dataclass(frozen=True)
class Alert:
    kind: str  # run_failure | digest
    title: str
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        return "\n".join([f"*{self.title}*", *self.lines])

    def as_json(self) -> dict[str, Any]:
        """The webhook body: `text` for chat tools (Teams, Slack-compatible), the rest for machines."""
        return {"text": self.text(), **asdict(self)}


def _clean(value: object, width: int = 160) -> str:
    text = visible_text(str(value))
    return text if len(text) <= width else text[: width - 1] + "…"


def run_failure(brand: str | None, job: str, run_id: str, step: str | None, error: str | None) -> Alert:
    where = f"[{brand}] " if brand else ""
    lines = [f"run `{run_id}`" + (f", step `{step}`" if step else "")]
    if error:
        lines.append(f"> {_clean(error.strip().splitlines()[0] if error.strip() else error, 300)}")
    lines.append("Sensors retry on their next tick; act if the same job fails twice (docs/runbook.md).")
    return Alert(
        "run_failure",
        f"{where}sync-pipeline: run failed: {job}",
        lines,
        {"job": job, "run_id": run_id, "step": step, "brand": brand},
    )


def digest(
    brand: str | None, new_p1: Sequence[dict[str, Any]], failed_checks: Sequence[dict[str, Any]], minutes: int
) -> Alert:
    """Grouped by owner; each exception with kind, order, age and impact. Checks after."""
    where = f"[{brand}] " if brand else ""
    lines: list[str] = []
    for owner in Owner:
        mine = [e for e in new_p1 if e.get("owner") == owner.value]
        if not mine:
            continue
        lines.append(f"{OWNER_TITLES[owner]} ({len(mine)}):")
        for e in mine[:MAX_ITEMS]:
            what = e.get("order") or e.get("subject") or ""
            lines.append(
                f"• {e['kind']} {_clean(what, 40)} — impact {float(e['impact']):.0f}, open {float(e['age_hours']):.1f} h "
                f"(#{e['id']}): {_clean(e.get('message', ''), 120)}"
            )
        if len(mine) > MAX_ITEMS:
            lines.append(f"• … and {len(mine) - MAX_ITEMS} more in ops/exceptions")
    if failed_checks:
        lines.append(f"Failed checks ({len(failed_checks)}):")
        lines += [
            f"• {c['check']} on {c['asset']}: {_clean(c.get('description') or '', 160)}"
            for c in failed_checks
        ]
    title = (
        f"{where}sync-pipeline digest: {len(new_p1)} new top-priority exception(s), "
        f"{len(failed_checks)} failed check(s) (last {minutes} min)"
    )
    return Alert(
        "digest", title, lines, {"exceptions": list(new_p1), "checks": list(failed_checks), "brand": brand}
    )
