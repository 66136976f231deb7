"""Plain `self`-only resolvers are called directly; everything needing Strawberry's wrapper
keeps it. (That a failed source still nulls a direct field with an error naming the source is
tested with the failure isolation: tests/schema/test_failures.py.)"""

from __future__ import annotations

from graphql import GraphQLObjectType

from usagegraph.schema import build_schema, schema


def test_hot_dashboard_fields_are_called_directly() -> None:
    direct = set(schema.direct_fields)
    for field in (
        "Organization.id",
        "Organization.name",
        "Reseller.name",
        "Usage.voice",
        "Usage.sms",
        "Usage.costs",
        "VoiceUsage.minutes",
        "SourceUsage.voice",
    ):
        assert field in direct


def test_fields_with_arguments_info_or_async_keep_strawberrys_resolver() -> None:
    direct = set(schema.direct_fields)
    for field in (
        "Organization.usage",  # arguments, async
        "Reseller.organizations",  # info
        "VoiceUsage.knowledgeBaseSeconds",  # async, info
        "Query.resellers",
    ):
        assert field not in direct
    voice_type = schema._schema.type_map["VoiceUsage"]
    assert isinstance(voice_type, GraphQLObjectType)
    resolve = voice_type.fields["knowledgeBaseSeconds"].resolve
    assert resolve is not None
    assert resolve.__name__ == "_async_resolver"  # Strawberry's


def test_every_built_schema_is_rewired_the_same_way() -> None:
    assert build_schema().direct_fields == schema.direct_fields
