"""The generated part of `docs/runbook.md`: the exception catalogue as pages an owner can act from.

`docs/runbook.md` keeps hand-written sections around one generated block between the two
markers below; `sync-pipeline runbook --write` rewrites only that block, and a test fails
when the file's block differs from what the catalogue renders now.
"""

from __future__ import annotations

from pathlib import Path

from sync_pipeline.lib.domain.exception_catalogue import CATALOGUE, OWNER_TITLES, Clears, KindInfo, Owner

BEGIN = "<!-- BEGIN GENERATED FROM lib/domain/exception_catalogue.py: edit the catalogue, then `sync-pipeline runbook --write` -->"
END = "<!-- END GENERATED -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(entry: KindInfo) -> str:
    clears = "automatically" if entry.clears is Clears.AUTOMATICALLY else "**by a person**"
    return (
        f"| `{entry.kind}` | {entry.flow} | {_cell(entry.meaning)} | {_cell(entry.action)} | "
        f"{clears}: {_cell(entry.how_it_clears)} | {entry.delays.value} | {entry.weight}"
        f"{' (stops the flow: always P1)' if entry.stops_flow else ''} |"
    )


def render_catalogue() -> str:
    """Markdown for every kind, grouped by owner (owners in a fixed order, kinds alphabetical)."""
    out = [BEGIN, "", f"{len(CATALOGUE)} kinds. Columns: what it means, what to do, how it clears, "
           "what it delays, and its weight in the impact score (1–5).", ""]  # fmt: skip
    for owner in Owner:
        entries = sorted((e for e in CATALOGUE.values() if e.owner is owner), key=lambda e: e.kind)
        out += [f"### {OWNER_TITLES[owner]} (`{owner.value}`)", ""]
        if not entries:
            out += ["No kinds yet.", ""]
            continue
        out += [
            "| kind | flow | what it means | what to do | how it clears | delays | weight |",
            "|---|---|---|---|---|---|---|",
            *(_row(e) for e in entries),
            "",
        ]
    out.append(END)
    return "\n".join(out)


def splice(document: str) -> str:
    """`document` with its generated block replaced by the current catalogue."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"runbook has no generated block: it needs the lines {BEGIN!r} … {END!r}")
    return document[:start] + render_catalogue() + document[end + len(END) :]


def generated_block(document: str) -> str:
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        raise ValueError("runbook has no generated block")
    return document[start : end + len(END)]


def write(path: Path) -> bool:
    """Rewrite the generated block of the runbook at `path`; True when it changed."""
    before = path.read_text(encoding="utf-8")
    after = splice(before)
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before
