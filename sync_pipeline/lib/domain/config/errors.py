"""The one exception a bad business-rules file raises, and the problems it carries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

KeyPath = tuple[str | int, ...]


def format_key_path(path: KeyPath) -> str:
    """`bundles.BUNDLE-STARTER.components[1].quantity`: how a user finds the value in the file."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            text += " (the key itself)"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass(frozen=True)
class ConfigProblem:
    file: Path
    line: int | None
    key_path: KeyPath
    message: str

    def __str__(self) -> str:
        where = str(self.file)
        if self.line is not None:
            where += f", line {self.line}"
        if self.key_path:
            where += f", {format_key_path(self.key_path)}"
        return f"{where}: {self.message}"


class ConfigError(Exception):
    """Every problem found in the business-rules files, each naming file, line, key and what is wrong."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        count = len(self.problems)
        heading = f"business rules are invalid ({count} problem{'s' if count != 1 else ''}):"
        super().__init__("\n".join([heading, *(f"  - {problem}" for problem in self.problems)]))


class ConfigWarning(UserWarning):
    """A rules file that loads but is risky (e.g. routing on customer-settable fields); the
    message names file, line and key like a ConfigProblem."""
