"""What Shopify refuses in a bulk query, checked before the operation is created.

Documented (bulkOperationRunQuery's description and the bulk operations guide): the query must
select one top-level field, include at least one connection and at most five, with connections
nested at most two levels deep; the top-level `node` and `nodes` fields cannot be used. Observed
(a public report of the live API): a nested connection's parent node must select `id` without an
alias, with the text used below. Assumed (stricter, wording ours): a connection inside a list
field is refused, and a bulk query may not be a mutation or a subscription.

Every refusal is a `BulkOperationUserError` with `field: ["query"]` and code `INVALID`, and no
operation is created.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
)

MAX_CONNECTIONS = 5
MAX_NESTING = 2
PARENT_ID_MESSAGE = (
    "The parent 'node' field for a nested connection must select the 'id' field without an alias "
    "and must be of 'ID' return type. Connection fields without 'id': {fields}."
)


def is_connection(type_: Any) -> bool:
    return get_named_type(type_).name.endswith("Connection")


def is_list(type_: Any) -> bool:
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    return isinstance(inner, GraphQLList)


def fields_of(
    schema: GraphQLSchema, parent: Any, selection_set: SelectionSetNode | None, fragments: dict[str, Any]
) -> Iterator[tuple[Any, FieldNode]]:
    """(parent type, field node) for every field selected, fragments expanded."""
    if selection_set is None:
        return
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            yield parent, sel
        elif isinstance(sel, InlineFragmentNode):
            target = schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
            yield from fields_of(schema, target or parent, sel.selection_set, fragments)
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments:
            fragment = fragments[sel.name.value]
            target = schema.get_type(fragment.type_condition.name.value) or parent
            yield from fields_of(schema, target, fragment.selection_set, fragments)


def connection_node(schema: GraphQLSchema, connection: Any, node: FieldNode, fragments: dict[str, Any]
                    ) -> tuple[Any, SelectionSetNode | None]:  # fmt: skip
    """The node type and node selection of a connection field (`nodes { … }` or `edges { node { … } }`)."""
    for conn_type, sel in fields_of(schema, connection, node.selection_set, fragments):
        if sel.name.value == "nodes":
            return get_named_type(conn_type.fields["nodes"].type), sel.selection_set
        if sel.name.value == "edges":
            edge = get_named_type(conn_type.fields["edges"].type)
            for edge_type, inner in fields_of(schema, edge, sel.selection_set, fragments):
                if inner.name.value == "node":
                    return get_named_type(edge_type.fields["node"].type), inner.selection_set
    return get_named_type(connection.fields["nodes"].type), None


@dataclass
class _Walk:
    connections: int = 0
    too_deep: bool = False
    in_list: bool = False
    without_id: list[str] | None = None


def bulk_query_errors(schema: GraphQLSchema, document: DocumentNode) -> list[str]:
    """Why Shopify would refuse this (already valid) document as a bulk query; empty if it would not."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation != OperationType.QUERY:
        return ["Bulk queries must contain exactly one query operation."]
    root = schema.query_type
    top = list(fields_of(schema, root, operations[0].selection_set, fragments))
    if len(top) != 1:
        return ["Bulk queries must select exactly one top-level field."]
    if top[0][1].name.value in ("node", "nodes"):
        return ["The top-level 'node' and 'nodes' fields can't be used in bulk queries."]
    walk = _Walk(without_id=[])
    _visit(schema, root, operations[0].selection_set, fragments, walk, depth=0, under_list=False)
    errors = []
    if walk.connections == 0:
        errors.append("Bulk queries must contain at least one connection.")
    if walk.connections > MAX_CONNECTIONS:
        errors.append(f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections.")
    if walk.too_deep:
        errors.append(f"Bulk queries cannot contain connections nested more than {MAX_NESTING} levels deep.")
    if walk.in_list:
        errors.append(
            "Queries that contain a connection field within a list field are not currently supported."
        )
    if walk.without_id:
        errors.append(PARENT_ID_MESSAGE.format(fields=", ".join(walk.without_id)))
    return errors


def _selects_id(schema: GraphQLSchema, node_type: Any, selection: SelectionSetNode | None,
                fragments: dict[str, Any]) -> bool:  # fmt: skip
    return any(
        f.name.value == "id" and f.alias is None
        for _, f in fields_of(schema, node_type, selection, fragments)
    )


def _visit(schema: GraphQLSchema, parent: Any, selection: SelectionSetNode | None, fragments: dict[str, Any],
           walk: _Walk, depth: int, under_list: bool, node_has_id: bool = True) -> None:  # fmt: skip
    for parent_type, field_node in fields_of(schema, parent, selection, fragments):
        fields = getattr(parent_type, "fields", None) or {}
        field = fields.get(field_node.name.value)
        if field is None:
            continue
        named = get_named_type(field.type)
        if not hasattr(named, "fields"):
            continue
        if is_connection(field.type):
            walk.connections += 1
            walk.too_deep |= depth + 1 > MAX_NESTING
            walk.in_list |= under_list
            if depth > 0 and not node_has_id and walk.without_id is not None:
                walk.without_id.append(field_node.alias.value if field_node.alias else field_node.name.value)
            node_type, node_selection = connection_node(schema, named, field_node, fragments)
            has_id = _selects_id(schema, node_type, node_selection, fragments)
            _visit(schema, node_type, node_selection, fragments, walk, depth + 1, False, has_id)
        else:
            _visit(schema, named, field_node.selection_set, fragments, walk, depth,
                   under_list or is_list(field.type), node_has_id)  # fmt: skip
