"""A bulk operation's JSONL result, read a line at a time and put back together into page shapes.

Shopify writes every node of every connection as one line; a nested connection's nodes carry
`__parentId`. We ask for `groupObjects: true`, where Shopify documents that children follow their
parent directly, so a root object is complete as soon as the next root line (or the end) comes:
100,000 orders stream through in constant memory. A child that does not follow its parent
means the file is not grouped, and is refused rather than attached to the wrong order.

`reassemble` turns each root object and its children into the dict a paginated read returns
(`{field: {"nodes": [...], "pageInfo": {"hasNextPage": false}}}`), so the same models parse both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from .errors import ShopifyBulkError

PARENT = "__parentId"


def parse_lines(lines: Iterable[str], operation_id: str) -> Iterator[dict[str, Any]]:
    """Each non-empty line as a JSON object; a line that is not one (a cut file) is an error."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise ShopifyBulkError(
                operation_id, f"line {number} of the result is not JSON ({exc}); the file is cut or corrupt"
            ) from None
        if not isinstance(value, dict):
            raise ShopifyBulkError(operation_id, f"line {number} of the result is not a JSON object")
        yield value


def reassemble(objects: Iterable[dict[str, Any]], child_field: str | None, operation_id: str
               ) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Root objects with their children under `child_field` in page shape, in file order."""
    current: dict[str, Any] | None = None
    children: list[dict[str, Any]] = []

    def done() -> dict[str, Any]:
        assert current is not None
        if child_field is None:
            return current
        page = {"nodes": children, "pageInfo": {"hasNextPage": False, "endCursor": None}}
        return {**current, child_field: page}

    for obj in objects:
        parent = obj.pop(PARENT, None)
        if parent is None:
            if current is not None:
                yield done()
            current, children = obj, []
            continue
        if current is None or parent != current.get("id") or child_field is None:
            raise ShopifyBulkError(
                operation_id,
                f"a child line of {parent} does not follow its parent: the result is not grouped "
                "(groupObjects: true) or the query nests more than one connection",
            )
        children.append(obj)
    if current is not None:
        yield done()
