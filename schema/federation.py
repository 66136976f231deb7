"""Apollo Federation v2: what the subgraph adds, and the client-facing schema without it.

usagegraph serves one schema at /graphql: the client-facing one plus Federation's entry points
(`_service { sdl }`, `_entities(representations:)`, the `_Any` scalar, the `_Entity` union and
`@key(fields: "id")` on Reseller, Organization, Agent and User), so a gateway can use the same URL
and the same gate, limits and persisted-query rules as any other caller.

Clients never need the Federation parts: `client_schema` is the served schema without them, and
its SDL (`client_sdl`) is what `usagegraph export-schema` prints into `schema.graphql` (and what
codegen reads). `usagegraph export-schema --federation` prints the subgraph SDL instead.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    print_schema,
    specified_directives,
)

from usagegraph.resolvers.errors import BadUserInput

__all__ = [
    "FEDERATION_FIELDS",
    "FEDERATION_TYPES",
    "client_schema",
    "client_sdl",
    "describe",
    "entity_reference",
]

# Query fields and named types that exist only for the gateway (Federation's subgraph spec, and
# the `@link` spec's support types Strawberry registers)
FEDERATION_FIELDS = frozenset({"_entities", "_service"})
FEDERATION_TYPES = frozenset(
    {"_Any", "_Entity", "_Service", "_FieldSet", "link__Import", "link__Purpose"}
)

_TYPE_DESCRIPTIONS = {
    "_Any": "Federation: an entity representation, `{__typename, id}` (gateways only).",
    "_Entity": "Federation: every type a gateway can look up by key (gateways only).",
    "_Service": "Federation: this subgraph's description (gateways only).",
    "_FieldSet": "Federation: the fields that make up an entity key.",
    "link__Import": "The @link spec: a name imported from a linked specification.",
    "link__Purpose": "The @link spec: why a specification is linked.",
}
_FIELD_DESCRIPTIONS = {
    ("Query", "_service"): "Federation: this subgraph's SDL, for composition (gateways only).",
    ("Query", "_entities"): (
        "Federation: entities by key, in the order asked; unknown ids (and ids outside the "
        "caller's scope) are null. Gateways only."
    ),
    ("_Service", "sdl"): "The subgraph SDL, Federation directives included.",
}
_ARGUMENT_DESCRIPTIONS = {
    ("Query", "_entities", "representations"): (
        'One `{__typename: "Organization", id: "cust0000"}` per entity wanted.'
    ),
}
_ENUM_VALUE_DESCRIPTIONS = {
    "SECURITY": "The linked spec's directives affect security.",
    "EXECUTION": "The linked spec's directives affect execution.",
}


def describe(schema: GraphQLSchema) -> None:
    """Give Federation's types and fields descriptions (GraphiQL's docs panel shows them, and
    every part of the served schema explains itself)."""
    types = schema.type_map
    for name, text in _TYPE_DESCRIPTIONS.items():
        if name in types and not types[name].description:
            types[name].description = text
    for (type_name, field_name), text in _FIELD_DESCRIPTIONS.items():
        kind = types.get(type_name)
        if isinstance(kind, GraphQLObjectType) and field_name in kind.fields:
            kind.fields[field_name].description = text
    for (type_name, field_name, arg_name), text in _ARGUMENT_DESCRIPTIONS.items():
        kind = types.get(type_name)
        if isinstance(kind, GraphQLObjectType) and field_name in kind.fields:
            argument = kind.fields[field_name].args.get(arg_name)
            if argument is not None:
                argument.description = text
    purpose = types.get("link__Purpose")
    if isinstance(purpose, GraphQLEnumType):
        for value_name, value in purpose.values.items():
            value.description = value.description or _ENUM_VALUE_DESCRIPTIONS.get(
                value_name, "A purpose of a linked specification."
            )


def client_schema(schema: GraphQLSchema) -> GraphQLSchema:
    """`schema` without Federation's fields, types and directives (a new schema sharing every
    other type object with it)."""
    query = schema.query_type
    if query is None:
        raise ValueError("the schema has no query type")
    fields = {name: f for name, f in query.fields.items() if name not in FEDERATION_FIELDS}
    client_query = GraphQLObjectType(
        query.name,
        fields,
        interfaces=query.interfaces,
        description=query.description,
        extensions=query.extensions,
    )
    named: list[GraphQLNamedType] = [client_query]
    for name, kind in schema.type_map.items():
        if name.startswith("__") or name in FEDERATION_TYPES or kind is query:
            continue
        named.append(kind)
    # types in name order: graphql-core then prints them in that order, which is the order
    # Strawberry's printer uses (schema.graphql stays byte-for-byte what it was)
    named.sort(key=lambda kind: kind.name)
    return GraphQLSchema(query=client_query, types=named, directives=specified_directives)


def client_sdl(schema: GraphQLSchema) -> str:
    """The client-facing SDL: what `schema.graphql` holds."""
    return print_schema(client_schema(schema))


_JSON_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}


def entity_reference(index: int, representation: Any, entities: Collection[str]) -> tuple[str, str]:
    """(type name, id) of one `_entities` representation, `{"__typename": ..., "id": ...}`,
    or BAD_USER_INPUT naming what is wrong with it. Other keys are ignored (a gateway sends
    only the key, `id`); an integer id is read as a string, as GraphQL's ID is."""
    where = f"representations[{index}]"
    if not isinstance(representation, dict):
        kind = _JSON_KINDS.get(type(representation), "a number")
        if representation is None:
            kind = "null"
        raise BadUserInput(
            f'{where} must be an object {{"__typename": ..., "id": ...}}, not {kind}'
        )
    typename = representation.get("__typename")
    if not isinstance(typename, str):
        raise BadUserInput(f"{where}.__typename must name an entity type: {', '.join(entities)}")
    if typename not in entities:
        shown = typename if len(typename) <= 40 else typename[:40] + "..."
        raise BadUserInput(
            f"{where}.__typename {shown!r} is not an entity type: {', '.join(entities)}"
        )
    key = representation.get("id")
    if isinstance(key, int) and not isinstance(key, bool):
        key = str(key)
    if not isinstance(key, str):
        raise BadUserInput(f"{where}.id must be a string")
    return typename, key
