"""Read a YAML file into plain Python values plus the line where every key and item starts.

Plain `yaml.safe_load` keeps the last of two equal mapping keys without a word, and forgets
where each value came from. We compose the node tree ourselves instead: duplicate keys become
problems, and each key path (`("bundles", "BUNDLE-STARTER", "components", 0)`) remembers its
line so a validation error can point at it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import ConfigProblem, KeyPath

_MERGE_TAG = "tag:yaml.org,2002:merge"
# Deep enough for any sensible rules file; stops a self-referencing alias from recursing forever.
_MAX_DEPTH = 40


@dataclass
class YamlDocument:
    file: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_for(self, path: KeyPath) -> int | None:
        """Line of the deepest part of `path` present in the file (a missing key points at its parent)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def problem(self, path: KeyPath, message: str) -> ConfigProblem:
        return ConfigProblem(self.file, self.line_for(path), path, message)


class _Builder:
    def __init__(self, document: YamlDocument, loader: yaml.SafeLoader) -> None:
        self.document = document
        self.loader = loader
        self.problems: list[ConfigProblem] = []

    def build(self, node: Node, path: KeyPath) -> Any:
        self.document.lines.setdefault(path, node.start_mark.line + 1)
        if len(path) > _MAX_DEPTH:
            self._report(node, path, f"nested more than {_MAX_DEPTH} levels deep (a recursive alias?)")
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: MappingNode, path: KeyPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                self._report(key_node, path, "YAML merge keys (<<) are not supported; write the keys out")
                continue
            if not isinstance(key_node, ScalarNode):
                self._report(key_node, path, "a key must be a plain value, not a list or mapping")
                continue
            key = self.loader.construct_object(key_node)
            if key in first_line:
                self._report(
                    key_node,
                    (*path, key),
                    f"duplicate key {key!r} (first defined at line {first_line[key]}); "
                    "YAML would silently keep only the last one",
                )
                continue
            first_line[key] = line
            self.document.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key))
        return result

    def _report(self, node: Node, path: KeyPath, message: str) -> None:
        self.problems.append(ConfigProblem(self.document.file, node.start_mark.line + 1, path, message))


def read_yaml(file: Path, data: bytes | None = None) -> tuple[YamlDocument, list[ConfigProblem]]:
    """The file's values and line index, or the problems that make it unreadable. `data`: the
    file's bytes as already read (the loader parses exactly the bytes it keeps the rules for)."""
    document = YamlDocument(file=file, data=None)
    try:
        # Decoded as `read_text` decodes: UTF-8, universal newlines.
        text = (
            file.read_text(encoding="utf-8")
            if data is None
            else io.TextIOWrapper(io.BytesIO(data), "utf-8").read()
        )
    except (OSError, UnicodeDecodeError) as error:
        return document, [ConfigProblem(file, None, (), f"cannot read the file: {error}")]
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return document, []
        builder = _Builder(document, loader)
        document.data = builder.build(root, ())
        return document, builder.problems
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = " ".join(part for part in (error.context, error.problem) if part)
        return document, [ConfigProblem(file, line, (), f"not valid YAML: {reason}")]
    except yaml.YAMLError as error:
        return document, [ConfigProblem(file, None, (), f"not valid YAML: {error}")]
    finally:
        loader.dispose()
