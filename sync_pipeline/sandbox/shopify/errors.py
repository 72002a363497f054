"""GraphQL error bodies in Shopify's shape: message, locations, path and `extensions.code`."""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    specified_rules,
    validate,
)
from graphql.validation import (
    FieldsOnCorrectTypeRule,
    KnownArgumentNamesRule,
    KnownDirectivesRule,
    KnownTypeNamesRule,
    NoUndefinedVariablesRule,
    NoUnusedVariablesRule,
    ProvidedRequiredArgumentsRule,
    ScalarLeafsRule,
    ValuesOfCorrectTypeRule,
    VariablesInAllowedPositionRule,
)

# Shopify reports validation failures with camelCase codes (graphql-ruby's); these are the
# ones clients meet most. Anything else is reported as GRAPHQL_VALIDATION_FAILED.
RULE_CODES: dict[Any, str] = {
    FieldsOnCorrectTypeRule: "undefinedField",
    KnownArgumentNamesRule: "argumentNotAccepted",
    ProvidedRequiredArgumentsRule: "missingRequiredArguments",
    KnownTypeNamesRule: "undefinedType",
    KnownDirectivesRule: "undefinedDirective",
    ValuesOfCorrectTypeRule: "argumentLiteralsIncompatible",
    VariablesInAllowedPositionRule: "variableMismatch",
    NoUnusedVariablesRule: "variableNotUsed",
    NoUndefinedVariablesRule: "variableNotDefined",
    ScalarLeafsRule: "selectionMismatch",
}


def format_error(error: GraphQLError, code: str) -> dict[str, Any]:
    body: dict[str, Any] = {"message": error.message}
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        body["path"] = list(error.path)
    body["extensions"] = {"code": code, **(error.extensions or {})}
    if "code" in (error.extensions or {}):
        body["extensions"]["code"] = error.extensions["code"]
    return body


def validation_errors(schema: GraphQLSchema, document: DocumentNode) -> list[dict[str, Any]]:
    errors = validate(schema, document)
    if not errors:
        return []
    coded: dict[str, str] = {}
    for rule, code in RULE_CODES.items():
        for err in validate(schema, document, [rule]):
            coded.setdefault(err.message, code)
    return [format_error(e, coded.get(e.message, "GRAPHQL_VALIDATION_FAILED")) for e in errors]


def single(message: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code, **extra}}]}


__all__ = ["format_error", "single", "specified_rules", "validation_errors"]
