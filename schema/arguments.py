"""Field arguments checked once, before execution: one clear BAD_USER_INPUT instead of nulls.

A reversed or too long range, a malformed or reversed month series, a negative `first:`: the
resolvers refuse them too, but only while resolving, and inside a list of non-null items one
refusal nulls its way up to `data: null` (and, with the other items still resolving, left
graphql-core coroutines that were never awaited). `argument_errors` walks the operation's
selections with the request's own variables (fragments, `@skip`/`@include` and abstract types
as graphql-core collects them) and checks every argument with the resolvers' own functions. A
connection's arguments (page sizes, cursors, `orderBy`, `filter`) are checked together by
`list_plan` (schema/ordering.py), the function its resolver runs: a cursor is only valid under
the ordering and filter beside it.

The executor (schema/plain.py) runs it after variable coercion and before the first resolver:
a refusal is `{"data": null, "errors": [...]}` with one error per distinct problem, naming the
argument and where it is (`resellers.organizations.usage`), and no resolver or upstream call
runs. It is an execution-phase answer (the document is valid, the values are not), so over HTTP
it is a 200 under either media type (the GraphQL-over-HTTP spec: `data` present, even null).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from graphql import (
    ArgumentNode,
    FieldNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    get_named_type,
    is_abstract_type,
)
from graphql.execution import VariableValues, get_argument_values

from usagegraph.resolvers.errors import BadUserInput
from usagegraph.resolvers.ranges import DayRange, month_series
from usagegraph.schema.compat import (
    FieldDetailsList,
    FragmentDetails,
    GroupedFieldSet,
    collect_fields,
    collect_subfields,
)
from usagegraph.schema.cursors import BadArgument
from usagegraph.schema.ordering import ArgumentBounds, list_plan

__all__ = ["ArgumentScope", "argument_errors", "check_first"]
# at most this many errors: one problem is enough to fix, a few show a pattern
MAX_ERRORS = 10


def check_first(first: int | None) -> None:
    """`first:` keeps the top N: N may be 0, never negative."""
    if first is not None and first < 0:
        raise BadUserInput(f"first must not be negative, got {first}")


def _check_range(value: Mapping[str, Any], max_days: int) -> None:
    DayRange.checked(value["firstDay"], value["lastDay"], max_days=max_days)


# (the argument's named type or name, how it is checked); the values are graphql-core's
# coerced ones: an input object is a dict of GraphQL field names, a Date a `date`
_BY_TYPE: dict[str, Callable[[Any, int], None]] = {"DateRange": _check_range}
_BY_NAME: dict[str, Callable[[Any, int], None]] = {"first": lambda value, _: check_first(value)}


class ArgumentScope(Protocol):
    """What the walk needs from one execution: the schema, the operation, its fragments and
    coerced variables (graphql-core's executor has exactly these attributes)."""

    schema: GraphQLSchema
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDetails]
    variable_values: VariableValues
    hide_suggestions: bool


def argument_errors(scope: ArgumentScope, bounds: ArgumentBounds) -> list[GraphQLError]:
    """Every distinct argument problem of the operation (at most MAX_ERRORS), or []."""
    root = scope.schema.get_root_type(scope.operation.operation)
    if root is None:
        return []  # graphql-core answers that one itself
    grouped = collect_fields(
        scope.schema,
        scope.fragments,
        scope.variable_values,
        root,
        scope.operation,
        scope.hide_suggestions,
    ).grouped_field_set
    errors: dict[str, GraphQLError] = {}
    for error in _walk(scope, root, grouped, (), bounds):
        errors.setdefault(error.message, error)
        if len(errors) >= MAX_ERRORS:
            break
    return list(errors.values())


def _walk(
    scope: ArgumentScope,
    parent: GraphQLObjectType,
    grouped: GroupedFieldSet,
    path: tuple[str, ...],
    bounds: ArgumentBounds,
) -> Iterator[GraphQLError]:
    for response_name, details in grouped.items():
        node = details[0].node
        name = node.name.value
        if name.startswith("__"):
            continue  # introspection: nothing of ours to check
        field = parent.fields.get(name)
        if field is None:
            continue
        here = (*path, response_name)
        if field.args and node.arguments:
            yield from _field_errors(scope, parent, field, details, here, bounds)
        named = get_named_type(field.type)
        if is_abstract_type(named):
            kinds = scope.schema.get_possible_types(named)
        elif isinstance(named, GraphQLObjectType):
            kinds = [named]
        else:
            continue
        for kind in kinds:
            sub = collect_subfields(
                scope.schema,
                scope.fragments,
                scope.variable_values,
                scope.operation,
                kind,
                details,
                scope.hide_suggestions,
            ).grouped_field_set
            yield from _walk(scope, kind, sub, here, bounds)


def _field_errors(
    scope: ArgumentScope,
    parent: GraphQLObjectType,
    field: Any,
    details: FieldDetailsList,
    path: tuple[str, ...],
    bounds: ArgumentBounds,
) -> Iterator[GraphQLError]:
    node: FieldNode = details[0].node
    try:
        values = get_argument_values(
            field,
            node,
            scope.variable_values,
            details[0].fragment_variable_values,
            scope.hide_suggestions,
        )
    except GraphQLError:
        return  # a value graphql-core cannot coerce: it reports that one while executing
    for argument, refusal in _problems(field, values, bounds):
        yield _refusal(refusal, argument, f"{parent.name}.{node.name.value}", path, node)


def _problems(
    field: Any, values: Mapping[str, Any], bounds: ArgumentBounds
) -> Iterator[tuple[str, BadUserInput]]:
    """(argument, refusal) for each argument value the resolvers would refuse."""
    item = _connection_item(field)
    if item is not None:  # a connection's arguments are checked together (cursors need all)
        try:
            list_plan(item, values, bounds)
        except BadArgument as refusal:
            yield refusal.argument, refusal
        return
    for argument, value in values.items():
        definition = field.args.get(argument)
        if value is None or definition is None:
            continue
        check = _BY_TYPE.get(get_named_type(definition.type).name) or _BY_NAME.get(argument)
        if check is None:
            continue
        try:
            check(value, bounds.max_range_days)
        except BadUserInput as refusal:
            yield argument, refusal
    first, last = values.get("firstMonth"), values.get("lastMonth")
    if isinstance(first, str) and isinstance(last, str):  # a month series: one pair
        try:
            month_series(first, last)
        except BadUserInput as refusal:
            # the message starts with the argument it is about; a span is the series' end
            yield ("firstMonth" if str(refusal).startswith("firstMonth") else "lastMonth"), refusal


def _connection_item(field: Any) -> str | None:
    """The item type of a connection field (`OrganizationConnection` lists `Organization`)."""
    named = get_named_type(field.type)
    if isinstance(named, GraphQLObjectType) and "pageInfo" in named.fields:
        return named.name.removesuffix("Connection")
    return None


def _refusal(
    refusal: BadUserInput, argument: str, field: str, path: tuple[str, ...], node: FieldNode
) -> GraphQLError:
    where = ".".join(path)
    nodes: list[ArgumentNode | FieldNode] = [
        a for a in node.arguments or () if a.name.value == argument
    ] or [node]
    return GraphQLError(
        f"argument {argument} of {where}: {refusal}",
        nodes=nodes,
        original_error=refusal,
        extensions={
            **refusal.extensions,
            "argument": argument,
            "field": field,
            "at": list(path),
        },
    )
