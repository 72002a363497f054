"""Run a bulk query page by page and flatten each page into JSONL lines, as Shopify's file has them.

Every node of every connection is one line. A nested connection is removed from its parent's
line and its nodes follow as lines of their own carrying `__parentId` (the id of the node that
held the connection); objects and lists that are not connections stay inline. With
`groupObjects: true` each node's children follow it directly (depth first); with `false` (the
default since 2026-01) the sandbox writes a page's root lines first and their children after
them, so a reader cannot rely on a child following its parent (Shopify promises no order then).

The root connection is read in pages (`first`/`after` added to the document) under the store's
lock for one page at a time, so a long export never blocks the Admin API for more than a page:
like Shopify's, a bulk result is not one snapshot of the store.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLSchema,
    IntValueNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    execute,
    get_named_type,
    parse,
)

from .bulk_rules import connection_node, fields_of, is_connection
from .paging import unbounded

# Root objects per page: the store's lock is held for one page, so a small page keeps the Admin API
# answering live traffic while an export runs (on Shopify the export runs elsewhere).
ROOT_PAGE = 50
PAGE_INFO_ALIAS = "sandboxBulkPage"


@dataclass
class Page:
    lines: list[dict[str, Any]]
    roots: int
    next_cursor: str | None


class BulkExport:
    def __init__(self, schema: GraphQLSchema, query: str) -> None:
        self.schema = schema
        self.document = parse(query)
        self.fragments = {
            d.name.value: d for d in self.document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        operation = next(d for d in self.document.definitions if isinstance(d, OperationDefinitionNode))
        root_type, root_field = next(
            fields_of(schema, schema.query_type, operation.selection_set, self.fragments)
        )
        self.operation = operation
        self.root_field = root_field
        self.root_key = root_field.alias.value if root_field.alias else root_field.name.value
        self.connection = get_named_type(root_type.fields[root_field.name.value].type)
        # The root connection's records as its first page found them (paging.root_connection).
        self.snapshots: dict[Hashable, tuple[list[Any], list[Any]]] = {}

    def _paged_document(self, after: str | None) -> DocumentNode:
        """The document with the root connection asked for one page after `after`, plus its pageInfo."""
        args = [a for a in self.root_field.arguments or () if a.name.value not in ("first", "last", "after")]
        args.append(ArgumentNode(name=NameNode(value="first"), value=IntValueNode(value=str(ROOT_PAGE))))
        if after is not None:
            args.append(ArgumentNode(name=NameNode(value="after"), value=StringValueNode(value=after)))
        page_info = parse("{ sandboxBulkPage: pageInfo { hasNextPage endCursor } }").definitions[0]
        assert isinstance(page_info, OperationDefinitionNode)
        selections = (*(self.root_field.selection_set.selections if self.root_field.selection_set else ()),
                      *page_info.selection_set.selections)  # fmt: skip
        field = FieldNode(
            alias=self.root_field.alias,
            name=self.root_field.name,
            arguments=tuple(args),
            directives=self.root_field.directives,
            selection_set=SelectionSetNode(selections=selections),
        )
        operation = OperationDefinitionNode(
            operation=self.operation.operation,
            name=self.operation.name,
            variable_definitions=(),
            directives=(),
            selection_set=SelectionSetNode(selections=(field,)),
        )
        return DocumentNode(definitions=(operation, *self.fragments.values()))

    def page(self, root: Any, context: dict[str, Any], after: str | None, grouped: bool) -> Page:
        """Execute one root page (the caller holds the store's lock) and flatten it."""
        with unbounded(self.snapshots):
            result = execute(self.schema, self._paged_document(after), root, context, {})
        if result.errors:
            raise RuntimeError("; ".join(e.message for e in result.errors))
        data = (result.data or {})[self.root_key] or {}
        info = data.pop(PAGE_INFO_ALIAS, {}) or {}
        node_type, node_sel = connection_node(self.schema, self.connection, self.root_field, self.fragments)
        roots = _nodes(data)
        lines: list[dict[str, Any]] = []
        deferred: list[dict[str, Any]] = []
        for value in roots:
            own, children = self._flatten(node_type, node_sel, value, None)
            lines.append(own)
            (lines if grouped else deferred).extend(children)
        lines.extend(deferred)
        cursor = info.get("endCursor") if info.get("hasNextPage") else None
        return Page(lines, len(roots), cursor)

    def _flatten(self, node_type: Any, selection: SelectionSetNode | None, value: dict[str, Any],
                 parent_id: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:  # fmt: skip
        """This node's own line and every line below it, children right after their parent."""
        nested: list[tuple[Any, SelectionSetNode | None, list[dict[str, Any]]]] = []
        own = self._strip(node_type, selection, value, nested)
        if parent_id is not None:
            own["__parentId"] = parent_id
        below: list[dict[str, Any]] = []
        for child_type, child_sel, child_values in nested:
            for child in child_values:
                line, more = self._flatten(child_type, child_sel, child, value.get("id"))
                below.append(line)
                below.extend(more)
        return own, below

    def _strip(self, parent: Any, selection: SelectionSetNode | None, value: Any,
               nested: list[tuple[Any, SelectionSetNode | None, list[dict[str, Any]]]]) -> Any:  # fmt: skip
        """`value` without its connections (collected into `nested`); other objects kept inline."""
        if isinstance(value, list):
            return [self._strip(parent, selection, v, nested) for v in value]
        if not isinstance(value, dict):
            return value
        out = dict(value)
        for parent_type, node in fields_of(self.schema, parent, selection, self.fragments):
            key = node.alias.value if node.alias else node.name.value
            field = (getattr(parent_type, "fields", None) or {}).get(node.name.value)
            if field is None or key not in value or value[key] is None:
                continue
            named = get_named_type(field.type)
            if is_connection(field.type):
                out.pop(key, None)
                child_type, child_sel = connection_node(self.schema, named, node, self.fragments)
                nested.append((child_type, child_sel, _nodes(value[key])))
            elif hasattr(named, "fields") or hasattr(named, "types"):
                out[key] = self._strip(named, node.selection_set, value[key], nested)
        return out


def _nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(connection.get("nodes"), list):
        return [n for n in connection["nodes"] if n is not None]
    return [e["node"] for e in connection.get("edges") or [] if e and e.get("node") is not None]
