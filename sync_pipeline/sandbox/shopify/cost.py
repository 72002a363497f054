"""Shopify's calculated query cost, requested (from the document) and actual (from the data).

Rules, as Shopify documents them and as we apply them:
- scalars and enums cost 0; `__typename` costs 0;
- an object costs 1 plus its selections; a list of objects sized by an argument costs that many
  (`nodes(ids:)` by the number of ids, `quantities(names:)` by the number of names, a plain list
  with `first`/`last`, such as `Order.refunds(first:)`, by that number); other object lists are
  charged once (an assumption: Shopify does not say how it sizes them);
- a connection costs 2 plus `first` (or `last`) times the cost of one node, where a node is
  selected through `nodes { … }` or `edges { node { … } }` (if both, the dearer one counts);
  `pageInfo` and `cursor` are covered by the 2;
- each mutation field costs 10, whatever it selects.
Sizing a plain list by its `first` is the stricter reading of Shopify's requested cost (its docs
say a field's cost is multiplied by the `first` of the lists and connections above it): a query
that real Shopify refuses as over 1,000 points must be refused here too, not pass because the
sandbox charged a list once.
Fragments on different types of an abstract field are alternatives, so the dearest one counts.
The actual cost applies the same rules to the objects actually returned.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    value_from_ast_untyped,
)

MUTATION_COST = 10
SIZED_LISTS = {"nodes": "ids", "quantities": "names"}


class CostCalculator:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                 variables: dict[str, Any] | None) -> None:  # fmt: skip
        self.schema = schema
        self.variables = variables or {}
        self.operation = operation
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.mutation = operation.operation == OperationType.MUTATION
        root = schema.mutation_type if self.mutation else schema.query_type
        assert root is not None
        self.root = root

    # ----- helpers --------------------------------------------------------------------------
    def _arg(self, node: FieldNode, name: str) -> Any:
        for arg in node.arguments or []:
            if arg.name.value == name:
                return value_from_ast_untyped(arg.value, self.variables)
        return None

    def _collect(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode | None
    ) -> dict[str, list[Any]]:
        """Fields grouped by the type they apply to: {type name: [(type, field node)]}."""
        groups: dict[str, list[Any]] = {}
        if selection_set is None:
            return groups
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                groups.setdefault(parent.name, []).append((parent, sel))
                continue
            if isinstance(sel, FragmentSpreadNode):
                fragment = self.fragments.get(sel.name.value)
                if fragment is None:
                    continue
                cond, sub = fragment.type_condition.name.value, fragment.selection_set
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition.name.value if sel.type_condition else parent.name
                sub = sel.selection_set
            else:
                continue
            target = self.schema.get_type(cond) or parent
            for key, items in self._collect(target, sub).items():
                groups.setdefault(parent.name if key == parent.name else key, []).extend(items)
        return groups

    @staticmethod
    def _field_def(parent: Any, node: FieldNode) -> GraphQLField | None:
        fields = getattr(parent, "fields", None)
        return fields.get(node.name.value) if fields else None

    # ----- requested ------------------------------------------------------------------------
    def requested(self) -> int:
        if self.mutation:
            return MUTATION_COST * sum(
                len(items) for items in self._collect(self.root, self.operation.selection_set).values()
            )
        return self._req_selection(self.root, self.operation.selection_set)

    def _req_selection(self, parent: GraphQLNamedType, selection_set: SelectionSetNode | None) -> int:
        groups = self._collect(parent, selection_set)
        base = sum(self._req_field(t, n) for t, n in groups.pop(parent.name, []))
        alternatives = [sum(self._req_field(t, n) for t, n in items) for items in groups.values()]
        return base + max(alternatives, default=0)

    def _req_field(self, parent: Any, node: FieldNode) -> int:
        field = self._field_def(parent, node)
        if field is None or node.name.value == "__typename":
            return 0
        named = get_named_type(field.type)
        if is_leaf_type(named):
            return 0
        if named.name.endswith("Connection"):
            size = self._arg(node, "first") or self._arg(node, "last") or 0
            return 2 + int(size) * self._req_node(named, node.selection_set)
        count = 1
        if node.name.value in SIZED_LISTS:
            sized = self._arg(node, SIZED_LISTS[node.name.value])
            count = len(sized) if isinstance(sized, list) else 1
        elif is_list_type(get_nullable_type(field.type)):
            size = self._arg(node, "first") or self._arg(node, "last")
            count = int(size) if isinstance(size, int) else 1
        return count * (1 + self._req_selection(named, node.selection_set))

    def _req_node(self, connection: Any, selection_set: SelectionSetNode | None) -> int:
        best = 0
        for conn_type, sel in (
            i for items in self._collect(connection, selection_set).values() for i in items
        ):
            field = self._field_def(conn_type, sel)
            if field is None:
                continue
            if sel.name.value == "nodes":
                best = max(best, 1 + self._req_selection(get_named_type(field.type), sel.selection_set))
            elif sel.name.value == "edges":
                edge = get_named_type(field.type)
                for edge_type, inner in (
                    i for it in self._collect(edge, sel.selection_set).values() for i in it
                ):
                    inner_field = self._field_def(edge_type, inner)
                    if inner.name.value == "node" and inner_field is not None:
                        node_type = get_named_type(inner_field.type)
                        best = max(best, 1 + self._req_selection(node_type, inner.selection_set))
        return best

    # ----- actual ---------------------------------------------------------------------------
    def actual(self, data: dict[str, Any] | None) -> int:
        if data is None:
            return 0
        if self.mutation:
            return self.requested()
        return self._act_selection(self.root, self.operation.selection_set, data)

    def _act_selection(
        self, parent: Any, selection_set: SelectionSetNode | None, value: dict[str, Any]
    ) -> int:
        total = 0
        for items in self._collect(parent, selection_set).values():
            for field_type, node in items:
                key = node.alias.value if node.alias else node.name.value
                if key in value:
                    total += self._act_field(field_type, node, value[key])
        return total

    def _act_field(self, parent: Any, node: FieldNode, value: Any) -> int:
        field = self._field_def(parent, node)
        if field is None or value is None:
            return 0
        named = get_named_type(field.type)
        if is_leaf_type(named):
            return 0
        if named.name.endswith("Connection"):
            return 2 + self._act_nodes(named, node.selection_set, value)
        items = value if isinstance(value, list) else [value]
        return sum(1 + self._act_selection(named, node.selection_set, v) for v in items if v is not None)

    def _act_nodes(
        self, connection: Any, selection_set: SelectionSetNode | None, value: dict[str, Any]
    ) -> int:
        best = 0
        for conn_type, sel in (
            i for items in self._collect(connection, selection_set).values() for i in items
        ):
            field = self._field_def(conn_type, sel)
            key = sel.alias.value if sel.alias else sel.name.value
            if field is None or not isinstance(value.get(key), list):
                continue
            if sel.name.value == "nodes":
                node_type = get_named_type(field.type)
                best = max(
                    best,
                    sum(1 + self._act_selection(node_type, sel.selection_set, n) for n in value[key] if n),
                )
            elif sel.name.value == "edges":
                edge_type = get_named_type(field.type)
                best = max(best, sum(self._act_selection(edge_type, sel.selection_set, e) + 1
                                     for e in value[key] if e))  # fmt: skip
        return best
