"""Organization usage resolved ahead: once per list, not once per organization.

A dashboard asks `usage(range:)` of every organization of a list. Resolved one by one, each
organization pays for Strawberry's argument conversion, a coroutine and graphql-core's tasks to
await it: at the L dashboard's 2,000 organizations that machinery was most of the request. So a
field returning a list of organizations looks ahead at the `usage` fields its items will
resolve, loads them for the whole list in one await (the same loader keys as one by one, so the
same upstream calls), and each organization's `usage` then answers synchronously.

Whatever this does not follow (directives, fragments on other types, a range the field would
reject, an unexpected failure) is left to the ordinary resolver, which gives the same answer
and reports its own errors at its own path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, NamedTuple

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.execution import VariableValues, get_argument_values
from strawberry import Schema

from usagegraph.resolvers.context import GraphContext
from usagegraph.resolvers.errors import GraphError
from usagegraph.resolvers.ranges import DayRange
from usagegraph.resolvers.usage import UsageResult, organizations_usage
from usagegraph.schema.compat import (
    SelectedField,
    StrawberryArgument,
    convert_arguments,
    convert_selections,
    graphql_schema,
)
from usagegraph.schema.direct import PLAIN_READER
from usagegraph.schema.inputs import PartialMonths
from usagegraph.schema.selection import field_group_key, kinds_for_usage
from usagegraph.schema.usage import Usage

__all__ = ["resolve_usage_ahead"]

Resolver = Callable[..., Any]
FieldKey = tuple[int, ...]
_ORGANIZATION = "Organization"


class _Planned(NamedTuple):
    """One `usage` field the list's organizations will resolve, with its arguments read."""

    key: FieldKey
    rng: DayRange
    count_whole_months: bool
    kinds: frozenset[str]


def _usage_fields(info: GraphQLResolveInfo[GraphContext]) -> list[list[FieldNode]] | None:
    """The organizations' `usage` fields, grouped by response key as graphql-core groups them;
    None when the selection has a shape this does not follow."""
    groups: dict[str, list[FieldNode]] = {}
    visited: set[str] = set()

    def visit(selection_set: SelectionSetNode) -> bool:
        for selection in selection_set.selections:
            if selection.directives:
                return False  # @skip / @include: graphql-core decides, not us
            if isinstance(selection, FieldNode):
                if selection.name.value == "usage":
                    response_key = selection.alias.value if selection.alias else "usage"
                    groups.setdefault(response_key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is not None and condition.name.value != _ORGANIZATION:
                    return False
                if not visit(selection.selection_set):
                    return False
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited:
                    continue  # graphql-core, too, collects a fragment once per selection
                visited.add(name)
                fragment = info.fragments.get(name)
                if fragment is None or fragment.type_condition.name.value != _ORGANIZATION:
                    return False
                if not visit(fragment.selection_set):
                    return False
            else:
                return False
        return True

    for node in info.field_nodes:
        if node.selection_set is None or not visit(node.selection_set):
            return None
    return list(groups.values())


class _UsageAhead:
    """Plans, loads and answers `Organization.usage` for whole lists."""

    def __init__(
        self,
        usage_field: GraphQLField,
        arguments: list[StrawberryArgument],
        schema: Schema,
    ) -> None:
        self._field = usage_field
        self._arguments = arguments
        self._schema = schema

    def _plan(self, info: GraphQLResolveInfo[GraphContext], ctx: GraphContext) -> list[_Planned]:
        """The list field's usage plans, read once per request (every reseller's
        `organizations` shares its AST nodes)."""
        list_key = field_group_key(info.field_nodes)
        plans: list[_Planned] | None = ctx.ahead_plans.get(list_key)
        if plans is None:
            plans = ctx.ahead_plans[list_key] = list(self._read(info, ctx))
        return plans

    def _read(
        self, info: GraphQLResolveInfo[GraphContext], ctx: GraphContext
    ) -> Iterable[_Planned]:
        variables = info.variable_values
        if isinstance(variables, dict):  # Strawberry's info carries only the coerced values
            variables = VariableValues({}, variables)
        for nodes in _usage_fields(info) or ():
            raw = get_argument_values(self._field, nodes[0], variables)
            args = convert_arguments(
                raw,
                self._arguments,
                scalar_registry=self._schema.schema_converter.scalar_registry,
                config=self._schema.config,
            )
            try:
                rng = args["range"].checked(ctx.service.max_range_days)
            except GraphError:
                continue  # the field reports it, once per organization, at its path
            partial: PartialMonths = args.get("partial_months", PartialMonths.EXCLUDE)
            # `nodes` are field nodes, which always convert to SelectedField
            selected = convert_selections(info, nodes)
            kinds = kinds_for_usage(s for s in selected if isinstance(s, SelectedField))
            yield _Planned(field_group_key(nodes), rng, partial.counts_whole_months, kinds)

    def start(
        self, info: GraphQLResolveInfo[GraphContext], items: list[Any]
    ) -> Awaitable[None] | None:
        """Ask the loaders now for every planned usage of `items`; the awaitable stores the
        answers. None when nothing is planned."""
        ctx: GraphContext = info.context
        plans = self._plan(info, ctx)
        if not plans or not items:
            return None
        nodes = [item._node for item in items]
        loading = [
            organizations_usage(ctx, nodes, p.rng, p.count_whole_months, p.kinds) for p in plans
        ]
        return self._store(ctx, plans, nodes, loading)

    @staticmethod
    async def _store(
        ctx: GraphContext,
        plans: list[_Planned],
        nodes: list[Any],
        loading: list[Awaitable[list[UsageResult]]],
    ) -> None:
        outcomes = await asyncio.gather(*loading, return_exceptions=True)
        answers = ctx.usage_ahead
        for plan, outcome in zip(plans, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                continue  # each organization's own resolver meets it again and reports it
            for node, result in zip(nodes, outcome, strict=True):
                answers[plan.key, node.id] = Usage.of(plan.rng, result.parts)

    def list_resolver(self, resolve: Resolver) -> Resolver:
        """`resolve` for a list-of-organizations field, returning once its usage is loaded."""

        def resolve_ahead(source: Any, info: GraphQLResolveInfo[GraphContext], **args: Any) -> Any:
            result = resolve(source, info, **args)
            if isinstance(result, list):
                storing = self.start(info, result)
                return result if storing is None else _when_done(storing, result)
            if info.is_awaitable(result):
                return self._after(result, info)
            return result

        return resolve_ahead

    async def _after(
        self, resolving: Awaitable[Any], info: GraphQLResolveInfo[GraphContext]
    ) -> Any:
        items = await resolving
        if isinstance(items, list):
            storing = self.start(info, items)
            if storing is not None:
                await storing
        return items

    @staticmethod
    def usage_resolver(resolve: Resolver) -> Resolver:
        """`resolve` for `Organization.usage`: the answer loaded ahead, else the usual way.
        Its plain reader (schema/plain.py) reads the same answer without a resolve info."""

        def usage(source: Any, info: GraphQLResolveInfo[GraphContext], **args: Any) -> Any:
            answers = info.context.usage_ahead
            if answers:
                answer = answers.get((field_group_key(info.field_nodes), source._node.id))
                if answer is not None:
                    return answer
            return resolve(source, info, **args)

        setattr(usage, PLAIN_READER, _ahead_reader)
        return usage


class NotAhead(LookupError):
    """No answer was loaded ahead for this organization: the resolver answers instead."""


def _ahead_reader(nodes: list[FieldNode], context: Any) -> Callable[[Any, None], Usage] | None:
    """Reads the answer loaded ahead for these `usage` nodes (whatever the arguments: they
    were read, and the range checked, when the answers were stored)."""
    answers = getattr(context, "usage_ahead", None)
    if not isinstance(answers, dict):
        return None
    key = field_group_key(nodes)

    def read(source: Any, _info: None) -> Usage:
        answer = answers.get((key, source._node.id))
        if answer is None:
            raise NotAhead(source._node.id)
        return answer  # type: ignore[no-any-return]

    return read


async def _when_done(storing: Awaitable[None], items: list[Any]) -> list[Any]:
    await storing
    return items


def _lists_of(field_type: GraphQLOutputType, item: GraphQLObjectType) -> bool:
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    if not isinstance(field_type, GraphQLList):
        return False
    inner = field_type.of_type
    if isinstance(inner, GraphQLNonNull):
        inner = inner.of_type
    return inner is item


def resolve_usage_ahead(schema: Schema) -> list[str]:
    """Rewire `Organization.usage` and every field listing organizations; returns the list
    fields as `Type.field` (what the tests pin)."""
    built = graphql_schema(schema)
    organization = built.type_map[_ORGANIZATION]
    assert isinstance(organization, GraphQLObjectType)
    definition = organization.extensions["strawberry-definition"]
    usage_field = organization.fields["usage"]
    ahead = _UsageAhead(usage_field, definition.get_field("usage").arguments, schema)
    usage_field.resolve = ahead.usage_resolver(usage_field.resolve)
    rewired: list[str] = []
    for type_name, graphql_type in built.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType) or type_name.startswith("__"):
            continue
        for name, field in graphql_type.fields.items():
            if _lists_of(field.type, organization):
                field.resolve = ahead.list_resolver(field.resolve)
                rewired.append(f"{type_name}.{name}")
    return rewired
