"""Load and validate every business-rules file in a directory."""

from __future__ import annotations

import errno
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .base import DEFER_CHECKS, RulesModel
from .bundles import BundlesConfig
from .business_rules import BusinessRules
from .carriers import CarriersConfig
from .despatches import DespatchesConfig
from .errors import ConfigError, ConfigProblem, ConfigWarning
from .finance import FinanceConfig
from .ops import OpsConfig
from .orders import OrdersConfig
from .pydantic_errors import describe_validation_error
from .routing import RoutingConfig
from .sku_overrides import SkuOverridesConfig
from .stock import StockConfig
from .stock_buffers import StockBuffersConfig
from .yaml_source import YamlDocument, read_yaml


@dataclass(frozen=True)
class RulesFile:
    section: str
    file_name: str
    model: type[RulesModel]
    # Routing has no safe default: sending every order to a guessed site is worse than stopping.
    required: bool


RULES_FILES: tuple[RulesFile, ...] = (
    RulesFile("routing", "routing.yaml", RoutingConfig, required=True),
    RulesFile("sku_overrides", "sku_overrides.yaml", SkuOverridesConfig, required=False),
    RulesFile("bundles", "bundles.yaml", BundlesConfig, required=False),
    RulesFile("stock_buffers", "stock_buffers.yaml", StockBuffersConfig, required=False),
    RulesFile("orders", "orders.yaml", OrdersConfig, required=False),
    RulesFile("carriers", "carriers.yaml", CarriersConfig, required=False),
    RulesFile("despatches", "despatches.yaml", DespatchesConfig, required=False),
    RulesFile("ops", "ops.yaml", OpsConfig, required=False),
    RulesFile("finance", "finance.yaml", FinanceConfig, required=False),
    RulesFile("stock", "stock.yaml", StockConfig, required=False),
)


# Rules already read, by directory as the caller spelt it (a warning names the file that way): the
# files' bytes they were read from, the rules, and the warnings the read gave. Every step of every run
# loads the rules (the YAML parse and validation were a tenth of the despatch read step's Python time
# at a peak); the files are read each time and the rules parsed again only when a byte changed. Each
# caller gets its own deep copy (0.3 ms, against 18 ms for the parse): the models are frozen but their
# lists and dicts are not, and what one step did to its rules in place must not reach the next.
_READ: dict[str, tuple[tuple[bytes | OSError | None, ...], BusinessRules, tuple[str, ...]]] = {}
_READ_GUARD = threading.Lock()
_ABSENT = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)


def load_business_rules(config_dir: Path) -> BusinessRules:
    """Every rules file in `config_dir`, validated; raises ConfigError listing all problems found.
    Unchanged files (byte for byte) give the rules read before, with the same warnings."""
    config_dir = Path(config_dir)
    if not config_dir.is_dir():
        raise ConfigError([ConfigProblem(config_dir, None, (), "business-rules directory does not exist")])
    key, contents = str(config_dir), _contents(config_dir)
    with _READ_GUARD:
        known = _READ.get(key)
    if known is not None and known[0] == contents:
        _, rules, said = known
        for message in said:
            warnings.warn(message, ConfigWarning, stacklevel=2)
        return rules.model_copy(deep=True)
    # Parsed from the very bytes it is kept for: a file rewritten in place while it was read (seen
    # empty, then the same bytes again) must not leave the empty file's defaults behind.
    rules, said = _read_rules(config_dir, contents)  # raises for an unreadable file
    with _READ_GUARD:
        _READ[key] = (contents, rules, said)
    for message in said:
        warnings.warn(message, ConfigWarning, stacklevel=2)
    return rules.model_copy(deep=True)


def _contents(config_dir: Path) -> tuple[bytes | OSError | None, ...]:
    """Each rules file's bytes; None: absent; the error: there but unreadable (the read reports it)."""
    found: list[bytes | OSError | None] = []
    for spec in RULES_FILES:
        try:
            found.append((config_dir / spec.file_name).read_bytes())
        except OSError as error:
            # Absent as `Path.exists()` says so (a dangling symlink or a symlink loop too); any
            # other error is a file there that cannot be read.
            found.append(None if error.errno in _ABSENT else error)
    return tuple(found)


def _read_rules(
    config_dir: Path, contents: tuple[bytes | OSError | None, ...]
) -> tuple[BusinessRules, tuple[str, ...]]:
    problems: list[ConfigProblem] = []
    sections: dict[str, BaseModel] = {}
    documents: dict[str, YamlDocument] = {}
    for spec, found in zip(RULES_FILES, contents, strict=True):
        loaded = _load_file(config_dir / spec.file_name, spec, found, problems)
        if loaded is not None:
            sections[spec.section], documents[spec.section] = loaded
    if problems:
        raise ConfigError(problems)
    rules = BusinessRules.model_validate(sections, context=DEFER_CHECKS)
    for found in rules.semantic_problems():
        section, *rest = found.key_path
        problems.append(documents[str(section)].problem(tuple(rest), found.message))
    if problems:
        raise ConfigError(problems)
    # Warnings, not errors: a merchant may knowingly route on an attribute that only their own
    # checkout app sets. `sync-pipeline config check` prints these too.
    said = tuple(
        f"{documents['routing'].problem(risky.key_path, risky.message)}"
        for risky in rules.routing.trust_warnings()
    )
    return rules, said


def _load_file(
    file: Path, spec: RulesFile, found: bytes | OSError | None, problems: list[ConfigProblem]
) -> tuple[BaseModel, YamlDocument] | None:
    if found is None:
        if spec.required:
            problems.append(ConfigProblem(file, None, (), "file is missing and has no default"))
            return None
        return spec.model.model_validate({}), YamlDocument(file=file, data={})
    if isinstance(found, OSError):
        problems.append(ConfigProblem(file, None, (), f"cannot read the file: {found}"))
        return None
    document, read_problems = read_yaml(file, found)
    problems.extend(read_problems)
    if read_problems and document.data is None:
        return None
    # After a duplicate key the first value is kept and validation goes on, so one run reports
    # everything wrong with the file; the file still fails as a whole.
    data: Any = {} if document.data is None else document.data
    if not isinstance(data, dict):
        problems.append(document.problem((), "the file must be a mapping of settings (key: value)"))
        return None
    try:
        model = spec.model.model_validate(data, context=DEFER_CHECKS)
    except ValidationError as error:
        problems.extend(describe_validation_error(error, document, spec.model))
        return None
    found = model.semantic_problems()
    problems.extend(document.problem(p.key_path, p.message) for p in found)
    return None if found or read_problems else (model, document)
