"""`sync-pipeline config check|show`: the effective configuration, secrets masked, problems named."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from pydantic import SecretStr

from sync_pipeline.settings import SETTINGS_CLASSES, SyncSettings, env_name, load_all


def _render(value: object) -> str:
    if isinstance(value, SecretStr):
        return "********** (set)" if value.get_secret_value() else "(empty)"
    if value is None:
        return "(not set)"
    return str(value)


def check_business_rules(rules_dir: Path) -> list[str]:
    """Load every business-rule file; each problem names the file, the line or key, and what is wrong.

    Warnings (a rule a shopper could trigger) are printed, not counted as problems."""
    from sync_pipeline.lib.domain.config import ConfigError, ConfigWarning, load_business_rules

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConfigWarning)
        try:
            load_business_rules(rules_dir)
        except ConfigError as error:
            return [str(error)]
    for warning in caught:
        if issubclass(warning.category, ConfigWarning):
            print(f"  warning: {warning.message}", file=sys.stderr)
    return []


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sync-pipeline config")
    parser.add_argument("action", choices=["check", "show"], help="check exits non-zero on any problem")
    args = parser.parse_args(argv)

    loaded, problems = load_all()
    for section, cls in SETTINGS_CLASSES.items():
        print(f"[{section}]")
        settings = loaded.get(section)
        for field, info in cls.model_fields.items():
            name = env_name(cls, field)
            if settings is not None:
                shown = _render(getattr(settings, field))
            elif name in os.environ:
                # The section did not validate: show what was given, masked if it is a secret.
                raw = os.environ[name]
                shown = _render(SecretStr(raw)) if "SecretStr" in str(info.annotation) else raw
            else:
                shown = "(not set)"
            print(f"  {name:32} {shown}")
    sync = loaded.get("sync")
    rules_dir = sync.rules_dir if isinstance(sync, SyncSettings) else Path("data/config")
    print(f"[business rules] {rules_dir}")
    problems.extend(check_business_rules(rules_dir))

    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print("  - " + problem.replace("\n", "\n    "), file=sys.stderr)
        return 1 if args.action == "check" else 0
    print("\nconfiguration OK")
    return 0
