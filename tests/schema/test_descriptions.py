"""Every type, field, argument and enum value explains itself (GraphiQL's docs, generated
clients): checked on the built schema and over introspection, as a client would see it."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    specified_scalar_types,
)

from tests.fixtures.graph import GraphQuery
from usagegraph.schema import schema


def undescribed(built: GraphQLSchema) -> list[str]:
    """Schema coordinates (`Type.field(arg:)`) whose description is missing or blank."""
    missing: list[str] = []

    def check(coordinate: str, description: str | None) -> None:
        if not (description or "").strip():
            missing.append(coordinate)

    for name, kind in built.type_map.items():
        if name.startswith("__") or name in specified_scalar_types:
            continue  # introspection types and String/Int/Float/Boolean/ID
        check(name, kind.description)
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in kind.fields.items():
                check(f"{name}.{field_name}", field.description)
                for arg_name, arg in field.args.items():
                    check(f"{name}.{field_name}({arg_name}:)", arg.description)
        elif isinstance(kind, GraphQLInputObjectType):
            for field_name, field in kind.fields.items():
                check(f"{name}.{field_name}", field.description)
        elif isinstance(kind, GraphQLEnumType):
            for value_name, value in kind.values.items():
                check(f"{name}.{value_name}", value.description)
    return missing


def test_every_type_field_argument_and_enum_value_has_a_description() -> None:
    built = schema._schema
    assert undescribed(built) == []
    # the walk really covers the schema's parts (so an empty list means something)
    assert {"Query", "Organization", "Usage", "DateRange", "PartialMonths"} <= set(built.type_map)
    assert built.type_map["Organization"].fields["usage"].args  # type: ignore[union-attr]


INTROSPECTION = """
{
  __schema {
    types {
      name kind description
      fields { name description args { name description } }
      inputFields { name description }
      enumValues { name description }
    }
  }
}
"""


async def test_introspection_shows_the_descriptions(graph: GraphQuery) -> None:
    result = await graph(INTROSPECTION)
    assert "errors" not in result
    missing: list[str] = []
    for kind in result["data"]["__schema"]["types"]:
        name = kind["name"]
        if name.startswith("__") or name in specified_scalar_types:
            continue
        if not kind["description"]:
            missing.append(name)
        for field in kind["fields"] or ():
            if not field["description"]:
                missing.append(f"{name}.{field['name']}")
            missing += [
                f"{name}.{field['name']}({arg['name']}:)"
                for arg in field["args"]
                if not arg["description"]
            ]
        missing += [
            f"{name}.{f['name']}" for f in kind["inputFields"] or () if not f["description"]
        ]
        missing += [f"{name}.{v['name']}" for v in kind["enumValues"] or () if not v["description"]]
    assert missing == []


def test_usage_arguments_say_what_the_range_means() -> None:
    built = schema._schema
    organization = built.type_map["Organization"]
    assert isinstance(organization, GraphQLObjectType)
    usage_range = organization.fields["usage"].args["range"].description or ""
    assert "inclusive" in usage_range.lower() and "UTC" in usage_range
    partial = organization.fields["usage"].args["partialMonths"].description or ""
    assert "EXCLUDE" in partial and "WHOLE_MONTHS" in partial
    monthly = organization.fields["monthly"].args["firstMonth"].description or ""
    assert "YYYY-MM" in monthly
