"""A bulk operation's JSONL result, read a line at a time and put back together into page shapes.

Shopify writes every node of every connection as one line; a nested connection's nodes carry
`__parentId`. We ask for `groupObjects: true`, where Shopify documents that children follow their
parent directly, so a root object is complete as soon as the next root line (or the end) comes:
100,000 orders stream through in constant memory. A child that does not follow its parent
means the file is not grouped, and is refused rather than attached to the wrong order.

`reassemble` turns each root object and its children into the dict a paginated read returns
(`{field: {"nodes": [...], "pageInfo": {"hasNextPage": false}}}`), so the same models parse both.
A root with two child connections (an order's line items and its returns) has its children told
apart by the type in their id (`gid://shopify/LineItem/…`, `gid://shopify/Return/…`): a line
carries no other trace of the connection it came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
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


def reassemble(objects: Iterable[dict[str, Any]], children_by: str | Mapping[str, str] | None,
               operation_id: str) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Root objects with their children in page shape, in file order.

    `children_by` is the root's one child connection (`"lineItems"`), or, for a root with several,
    `{id type: connection}` (`{"LineItem": "lineItems", "Return": "returns"}`); None: no children.
    Every connection named gets a page, empty when the root has no children in it.
    """
    by_type = {"": children_by} if isinstance(children_by, str) else dict(children_by or {})
    current: dict[str, Any] | None = None
    children: dict[str, list[dict[str, Any]]] = {}

    def done() -> dict[str, Any]:
        assert current is not None
        pages = {field: {"nodes": children.get(field, []), "pageInfo": {"hasNextPage": False, "endCursor": None}}
                 for field in by_type.values()}  # fmt: skip
        return {**current, **pages}

    for obj in objects:
        parent = obj.pop(PARENT, None)
        if parent is None:
            if current is not None:
                yield done()
            current, children = obj, {}
            continue
        if current is None or parent != current.get("id") or not by_type:
            raise ShopifyBulkError(
                operation_id,
                f"a child line of {parent} does not follow its parent: the result is not grouped "
                "(groupObjects: true) or the query nests more than one connection",
            )
        field = by_type[""] if "" in by_type else by_type.get(id_type(obj.get("id")))
        if field is None:
            raise ShopifyBulkError(operation_id, f"a child line of {parent} has id {obj.get('id')!r}, of none "
                                   f"of the connections asked for ({', '.join(sorted(by_type))})")  # fmt: skip
        children.setdefault(field, []).append(obj)
    if current is not None:
        yield done()


def id_type(value: object) -> str | None:
    """`LineItem` of `gid://shopify/LineItem/12`; None for anything that is not a Shopify gid."""
    if not isinstance(value, str) or not value.startswith("gid://shopify/"):
        return None
    return value.split("/")[3] or None
