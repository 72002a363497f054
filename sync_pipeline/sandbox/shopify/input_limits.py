"""Shopify's input-array cap: no list argument may hold more than 250 items.

Shopify documents the cap for every input array (https://shopify.dev/docs/api/usage/limits)
and answers a request over it with one top-level error per offending array, code
`MAX_INPUT_SIZE_EXCEEDED`, before anything runs and without charging the bucket (assumed).
This checks every argument of every field in the operation, fragments and nested input
objects included: `nodes(ids:)`, `quantities(names:)`, `inventorySetQuantities` quantities,
`inventoryAdjustQuantities` changes, `fulfillmentCreate` line items, and any other.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    visit,
)
from graphql.execution.values import get_argument_values, get_variable_values

MAX_INPUT_SIZE = 250


def input_size_errors(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
) -> list[dict[str, Any]]:
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    if not isinstance(coerced, dict):
        return []  # bad variables: execution reports them (INVALID_VARIABLE)
    type_info = TypeInfo(schema)
    finder = _OversizedLists(type_info, coerced)
    visit(document, TypeInfoVisitor(type_info, finder))
    return finder.errors


class _OversizedLists(Visitor):
    def __init__(self, type_info: TypeInfo, variables: dict[str, Any]) -> None:
        super().__init__()
        self.type_info = type_info
        self.variables = variables
        self.errors: list[dict[str, Any]] = []

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        field_def = self.type_info.get_field_def()
        if field_def is None or not node.arguments:
            return
        try:
            arguments = get_argument_values(field_def, node, self.variables)
        except GraphQLError:
            return  # reported by execution
        for name, value in arguments.items():
            self._check(node, value, [node.name.value, name])

    def _check(self, node: FieldNode, value: Any, path: list[str | int]) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                self._check(node, inner, [*path, key])
        elif isinstance(value, list):
            if len(value) > MAX_INPUT_SIZE:
                location = node.loc.source.get_location(node.loc.start) if node.loc else None
                error: dict[str, Any] = {
                    "message": (
                        f"The input array size of {len(value)} is greater than the maximum "
                        f"allowed of {MAX_INPUT_SIZE}"
                    ),
                    "path": path,
                    "extensions": {"code": "MAX_INPUT_SIZE_EXCEEDED"},
                }
                if location is not None:
                    error["locations"] = [{"line": location.line, "column": location.column}]
                self.errors.append(error)
            for index, inner in enumerate(value):
                self._check(node, inner, [*path, index])
