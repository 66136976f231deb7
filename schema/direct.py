"""Plain resolvers called directly by graphql-core, without Strawberry's per-call wrapping.

Strawberry wraps every resolver in the same machinery: an `Info` object, argument conversion
and a chain of extension partials, whether or not the resolver uses any of it. For a method
that takes only `self` (`Usage.voice`, `Organization.id`, ...) none of it applies, yet at the
L dashboard's 2,000 organizations those wrappers were a fifth of the request. Such fields get
a resolver that calls the method on the parent value and nothing else: the same function,
the same result, the same errors (graphql-core locates whatever the method raises).

A field keeps Strawberry's wrapper when it has arguments, asks for `info`/`root`/`parent`, is
async, or carries field extensions or permission classes. Attribute fields (no resolver at all)
get a direct reader too, the `getattr` Strawberry's own basic path does, so that every plain
reader carries the `PLAIN` mark: schema/plain.py completes plain fields in one step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema
from strawberry.schema.config import StrawberryConfig

from usagegraph.schema.compat import StrawberryField

__all__ = ["PLAIN", "PLAIN_READER", "call_plain_resolvers_directly", "is_plain"]

# set on the resolvers made here: pure reads of the parent value that need no `info`
PLAIN = "usagegraph_plain"
# set on a resolver that may have a plain reader for one request: `(field nodes, context) ->
# read(source, None)` or None; `read` answers what the resolver would, or raises (then the
# resolver runs) -- schema/ahead.py's `Organization.usage`
PLAIN_READER = "usagegraph_plain_reader"


def is_plain(resolve: Callable[..., Any] | None) -> bool:
    return getattr(resolve, PLAIN, False)


def _plain_method(field: StrawberryField) -> Callable[[Any], Any] | None:
    resolver = field.base_resolver
    if (
        resolver is None
        or resolver.self_parameter is None
        or resolver.info_parameter is not None
        or resolver.root_parameter is not None
        or resolver.parent_parameter is not None
        or resolver.is_async
        or field.arguments
        or field.extensions
        or field.permission_classes
    ):
        return None
    method = resolver.wrapped_func
    if isinstance(method, staticmethod | classmethod):
        return None  # neither takes the instance (their self_parameter check already says so)
    return method


def _is_attribute(field: StrawberryField) -> bool:
    return field.base_resolver is None and not field.extensions and not field.permission_classes


def _direct(method: Callable[[Any], Any]) -> Callable[..., Any]:
    def resolve(source: Any, _info: GraphQLResolveInfo[Any] | None) -> Any:
        return method(source)

    setattr(resolve, PLAIN, True)
    return resolve


def _attribute(name: str) -> Callable[..., Any]:
    def resolve(source: Any, _info: GraphQLResolveInfo[Any] | None) -> Any:
        return getattr(source, name)

    setattr(resolve, PLAIN, True)
    return resolve


def call_plain_resolvers_directly(schema: GraphQLSchema, config: StrawberryConfig) -> list[str]:
    """Rewire every plain method field of `schema`'s object types, and every attribute field
    when the configured default resolver is `getattr`; returns the method fields as
    `Type.field` (what the tests pin)."""
    names = config.name_converter
    attributes = config.default_resolver is getattr
    rewired: list[str] = []
    for type_name, graphql_type in schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        definition = graphql_type.extensions.get("strawberry-definition")
        if definition is None:
            continue
        for field in definition.fields:
            name = names.get_graphql_name(field)
            method = _plain_method(field)
            if method is not None:
                graphql_type.fields[name].resolve = _direct(method)
                rewired.append(f"{type_name}.{name}")
            elif attributes and _is_attribute(field) and name in graphql_type.fields:
                graphql_type.fields[name].resolve = _attribute(field.python_name)
    return rewired
