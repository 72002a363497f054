"""Load the generated SDL subsets and wire abstract types to the sandbox views."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from graphql import GraphQLInterfaceType, GraphQLSchema, GraphQLUnionType, build_schema

SCHEMA_DIR = Path(__file__).resolve().parent
SUPPORTED_VERSIONS = ("2026-07", "2026-10")  # oldest first: unknown versions fall forward to [0]


def _typename(value: Any, info: Any, abstract: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("typename")
    return getattr(value, "typename", None)


@cache
def load_schema(version: str) -> GraphQLSchema:
    sdl = (SCHEMA_DIR / f"schema_{version}.graphql").read_text(encoding="utf-8")
    schema = build_schema(sdl)
    for named in schema.type_map.values():
        if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
            named.resolve_type = _typename
    return schema


def served_version(requested: str) -> str:
    """Shopify serves an unsupported version as the oldest supported one ("falls forward")."""
    return requested if requested in SUPPORTED_VERSIONS else SUPPORTED_VERSIONS[0]
