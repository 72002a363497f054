"""The served schema is a faithful subset of the official one; client documents validate against it.

Needs `../shared/reference/shopify` beside the checkout (present in CI); skipped elsewhere.
"""

from __future__ import annotations

import gzip
import json
from functools import cache

import pytest
from graphql import GraphQLSchema, build_client_schema, parse, validate
from graphql.type import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from sync_pipeline.lib.shopify import bulk_documents, documents
from sync_pipeline.sandbox.shopify.generate_schema import VERSIONS, subset
from sync_pipeline.sandbox.shopify.schema import SCHEMA_DIR, load_schema

from .conftest import SHARED

REFERENCE = SHARED / "reference" / "shopify"
pytestmark = [
    pytest.mark.needs_shared,
    pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference is not beside the checkout"),
]


@cache
def official(version: str) -> GraphQLSchema:
    with gzip.open(REFERENCE / f"admin_{version}.json.gz", "rt", encoding="utf-8") as fh:
        return build_client_schema(json.load(fh)["data"])


@pytest.mark.parametrize("version", VERSIONS)
def test_every_served_type_and_field_exists_officially_with_the_same_type(version: str) -> None:
    served, full = load_schema(version), official(version)
    checked = 0
    for name, named in served.type_map.items():
        if name.startswith("__"):
            continue
        other = full.get_type(name)
        assert other is not None, f"{version}: {name} is not in the official schema"
        assert type(other) is type(named), f"{version}: {name} kind differs"
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for fname, field in named.fields.items():
                ofield = other.fields.get(fname)  # type: ignore[union-attr]
                assert ofield is not None, f"{version}: {name}.{fname} is not official"
                assert str(field.type) == str(ofield.type), f"{version}: {name}.{fname} type differs"
                for aname, arg in field.args.items():
                    assert str(arg.type) == str(ofield.args[aname].type), f"{name}.{fname}({aname})"
                checked += 1
        elif isinstance(named, GraphQLInputObjectType):
            assert set(named.fields) == set(other.fields), f"{version}: input {name} differs"  # type: ignore[union-attr]
        elif isinstance(named, GraphQLEnumType):
            assert set(named.values) == set(other.values), f"{version}: enum {name} differs"  # type: ignore[union-attr]
    assert checked > 200


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(documents.ALL))
def test_client_documents_validate_against_the_official_schema(version: str, name: str) -> None:
    errors = validate(official(version), parse(documents.ALL[name]))
    assert not errors, f"{name} invalid against official {version}: {errors}"
    assert not validate(load_schema(version), parse(documents.ALL[name])), (
        f"{name} invalid against the sandbox"
    )


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(bulk_documents.BULK_QUERIES))
def test_bulk_queries_are_valid_and_within_shopifys_bulk_limits(version: str, name: str) -> None:
    from sync_pipeline.sandbox.shopify.bulk_rules import bulk_query_errors

    document = parse(bulk_documents.BULK_QUERIES[name])
    assert not validate(official(version), document), f"{name} invalid against official {version}"
    assert not bulk_query_errors(official(version), document)


@pytest.mark.parametrize("version", VERSIONS)
def test_committed_schema_is_what_the_generator_produces(version: str) -> None:
    from graphql import print_schema

    with gzip.open(REFERENCE / f"admin_{version}.json.gz", "rt", encoding="utf-8") as fh:
        regenerated = print_schema(build_client_schema(subset(json.load(fh), version)))
    committed = (SCHEMA_DIR / f"schema_{version}.graphql").read_text(encoding="utf-8")
    assert regenerated.strip() in committed
