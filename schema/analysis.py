"""Query analysis: the depth, aliases and estimated cost of every operation of a document.

One pass over the document: each fragment is analysed once, in dependency order, and every
spread of it reuses that result (a fragment spread twice counts twice, but is not walked
twice). Strawberry's QueryDepthLimiter and MaxAliasesLimiter walked a fragment again at every
spread, so `fragment F0 on Query { ...F1 ...F1 }` ... `fragment F22 on Query { ... }` (about
330 tokens) took 2^22 walks; here it takes 23, and its cost (2^22 times the last fragment's)
refuses it.

**Cost** estimates the work an operation asks for, in the spirit of GitHub's resource limits
and Apollo Router's demand control: every field resolved costs 1 (leaves included, so the cost
is about the number of values in the answer), a field that reaches a vendor costs
`UPSTREAM_WEIGHT`, and a list multiplies what is selected below it by its size: the value of
`ids:` / `representations:` / `first:` / the months of `monthly(firstMonth:, lastMonth:)` when
the operation (or its variables) says, else the estimate of `LIST_SIZES`. A connection counts as
a list of its page size (`first`/`last`, else the default page size; the smaller of the two when
both are given), its `edges` and `nodes` as one item each; ordering it by a usage figure or
filtering it by `hasUsageIn` reads the usage of the whole list (`CONNECTION_LISTS` items), as
ranked agents do. Introspection fields
cost 1 each, without list estimates (graphql-core's MaxIntrospectionDepthRule bounds their
nesting); depth does not count them, as Strawberry's limiter did not.

`analyse(schema, document)` gives figures that hold for any variables: a list sized by a
variable counts as one item there, a lower bound, so a document over a limit is refused before
any further validation. When some size does come from a variable (`variable_sized`), the
request's own variables give the real figure (`analyse(..., variables=...)`, one more pass).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    EnumValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    StringValueNode,
    TypeMetaFieldDef,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
)

__all__ = [
    "CONNECTION_LISTS",
    "LIST_SIZES",
    "SATURATION",
    "UPSTREAM_FIELDS",
    "UPSTREAM_WEIGHT",
    "DocumentAnalysis",
    "OperationFigures",
    "analyse",
    "fragment_order",
    "spread_names",
]

# Estimated list sizes, (type, field) -> items, for lists no argument sizes: a deployment at
# the sandbox's largest scale, L (20 resellers of 100 organizations, with 10 agents and 5 Teli
# users each).
LIST_SIZES: Mapping[tuple[str, str], int] = {
    ("Query", "resellers"): 20,
    ("Query", "organizations"): 2000,  # without `ids:` (with it: their number)
    ("Query", "_entities"): 2000,  # when `representations` is not known yet
    ("Query", "sources"): 10,
    ("Reseller", "organizations"): 100,
    ("Organization", "agents"): 10,  # `first:` can only make it smaller
    ("Organization", "users"): 5,
    ("Organization", "monthly"): 24,  # when the months are not known yet: the most allowed
    ("Reseller", "monthly"): 24,
    ("SourceUsage", "talkdesk"): 20,  # raw Talkdesk line items of one source and range
}
# The whole list behind each connection (ordering by usage reads all of it), as above.
CONNECTION_LISTS: Mapping[tuple[str, str], int] = {
    ("Query", "resellersConnection"): 20,
    ("Query", "organizationsConnection"): 2000,
    ("Reseller", "organizationsConnection"): 100,
    ("Organization", "agentsConnection"): 10,
    ("Organization", "usersConnection"): 5,
}
DEFAULT_PAGE_SIZE = 20  # [graph] default_page_size's default
MAX_PAGE_SIZE = 100  # [graph] max_page_size's default
DEFAULT_LIST_SIZE = 3  # any other: sources and bySource (three vendors), costs (currencies), ...
MAX_MONTHS = 24  # schema/entities.py refuses more

# Fields that reach a vendor (or a per-request loader of vendor data) each time they resolve.
UPSTREAM_WEIGHT = 10
UPSTREAM_FIELDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("Query", "user"),  # reads the Teli users of the source
        ("Reseller", "usage"),
        ("Organization", "usage"),
        ("Organization", "unattributedUsage"),
        ("Organization", "users"),
        ("Organization", "usersConnection"),  # lists the users first, as `users` does
        ("Organization", "lifetimeUsage"),
        ("Agent", "usage"),
        ("User", "usage"),
        ("User", "lifetimeUsage"),
    }
)
# per item: each month of `monthly` is a usage over that month
UPSTREAM_PER_ITEM: frozenset[tuple[str, str]] = frozenset(
    {("Organization", "monthly"), ("Reseller", "monthly")}
)

# Figures are kept below this (an exponential document would otherwise make numbers of
# thousands of digits): past it, they only say "more than".
SATURATION = 10**12

_MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)


@dataclass(frozen=True, slots=True)
class OperationFigures:
    """One operation's figures ('anonymous' when it has no name)."""

    name: str
    depth: int
    aliases: int
    cost: int
    node: OperationDefinitionNode | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class DocumentAnalysis:
    operations: tuple[OperationFigures, ...]
    aliases: int  # in the whole document, a fragment counting at every spread
    variable_sized: bool  # some list size (or ranking) depends on the request's variables
    # where it selects Federation's `_service` (the subgraph SDL), if it does
    service: FieldNode | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class _Figures:
    depth: int = 0
    aliases: int = 0
    cost: int = 0


_NOTHING = _Figures()


def analyse(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None = None,
    *,
    pages: tuple[int, int] = (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
) -> DocumentAnalysis:
    """The figures of every operation in `document`. Without `variables`, each size a variable
    gives counts as one item (a lower bound for any request); with them, as they say. `pages`
    is (default, largest) page: a connection without `first`/`last` counts the default, one
    asking more than the largest (refused before execution) the largest."""
    walker = _Walker(schema, document, variables)
    walker.pages = pages
    return walker.run()


class _Walker:
    pages = (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)  # (default, largest) page of a connection

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any] | None
    ) -> None:
        self.schema = schema
        self.document = document
        self.variables = variables
        self.variable_sized = False
        self.service: FieldNode | None = None
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                # a second definition of a name is a validation error; the first one counts
                self.fragments.setdefault(definition.name.value, definition)
        self.figures: dict[str, _Figures] = {}

    def run(self) -> DocumentAnalysis:
        for name in self._dependency_order():
            fragment = self.fragments[name]
            kind = self.schema.get_type(fragment.type_condition.name.value)
            self.figures[name] = self._selections(fragment.selection_set, kind, False)
        operations: list[OperationFigures] = []
        for definition in self.document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                root = self.schema.get_root_type(definition.operation)
                figures = self._selections(definition.selection_set, root, False)
                name = definition.name.value if definition.name else "anonymous"
                operations.append(
                    OperationFigures(name, figures.depth, figures.aliases, figures.cost, definition)
                )
        aliases = _capped(sum(o.aliases for o in operations))
        return DocumentAnalysis(tuple(operations), aliases, self.variable_sized, self.service)

    def _dependency_order(self) -> list[str]:
        """Fragment names, each after every fragment it spreads (`fragment_order`)."""
        return fragment_order(self.fragments)[0]

    def _selections(
        self, selection_set: SelectionSetNode, parent: Any, introspection: bool
    ) -> _Figures:
        depth = aliases = cost = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                figures = self._field(selection, parent, introspection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                kind = self.schema.get_type(condition.name.value) if condition else parent
                figures = self._selections(selection.selection_set, kind, introspection)
            elif isinstance(selection, FragmentSpreadNode):
                # analysed before (dependency order); absent: unknown, or part of a cycle
                figures = self.figures.get(selection.name.value, _NOTHING)
            else:  # pragma: no cover - the parser makes no other selection
                continue
            depth = max(depth, figures.depth)
            aliases = _capped(aliases + figures.aliases)
            cost = _capped(cost + figures.cost)
        return _Figures(depth, aliases, cost)

    def _field(self, node: FieldNode, parent: Any, introspection: bool) -> _Figures:
        name = node.name.value
        aliases = 1 if node.alias else 0
        definition = _definition(parent, name)
        parent_name = parent.name if isinstance(parent, GraphQLNamedType) else ""
        if name == "_service" and parent is self.schema.query_type and self.service is None:
            self.service = node
        if name.startswith("__"):
            # introspection (and __typename): one per field, and no depth, as before
            introspection = True
            definition = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}.get(name)
        below = _NOTHING
        if node.selection_set is not None:
            kind = get_named_type(definition.type) if definition is not None else None
            below = self._selections(node.selection_set, kind, introspection)
        if introspection:
            return _Figures(0, _capped(aliases + below.aliases), _capped(1 + below.cost))
        depth = 1 + below.depth if node.selection_set is not None else 0
        key = (parent_name, name)
        weight = UPSTREAM_WEIGHT if key in UPSTREAM_FIELDS else 1
        per_item = UPSTREAM_WEIGHT if key in UPSTREAM_PER_ITEM else 0
        size = 1
        if _is_connection_page(parent_name, name):
            size = 1  # a connection's items: its page size counted at the connection
        elif key in CONNECTION_LISTS:
            size = self._page_size(node)
            if self._orders_by_usage(node):
                # ordering (or filtering) by usage reads the usage of the whole list
                weight += UPSTREAM_WEIGHT * CONNECTION_LISTS[key]
        elif definition is not None and isinstance(get_nullable_type(definition.type), GraphQLList):
            size = self._list_size(key, node)
        if key == ("Organization", "agents") and self._ranked(node):
            # ranking reads the usage of every agent of the organization, not only the first N
            weight += UPSTREAM_WEIGHT * LIST_SIZES[key]
        cost = _capped(weight + size * (per_item + below.cost))
        return _Figures(depth, _capped(aliases + below.aliases), cost)

    # -- sizes ----------------------------------------------------------------------------

    def _list_size(self, key: tuple[str, str], node: FieldNode) -> int:
        estimate = LIST_SIZES.get(key, DEFAULT_LIST_SIZE)
        if key == ("Query", "organizations"):
            known, ids = self._argument(node, "ids")
            return estimate if known and ids is None else self._count(known, ids, estimate)
        if key == ("Query", "_entities"):
            return self._count(*self._argument(node, "representations"), estimate)
        if key == ("Organization", "agents"):
            known, first = self._argument(node, "first")
            if not known:
                return 1 if self.variables is None else estimate
            if isinstance(first, int) and not isinstance(first, bool):
                return max(1, min(first, estimate))
            return estimate  # null (all agents), or a value validation refuses
        if key in UPSTREAM_PER_ITEM:
            return self._months(node)
        return estimate

    def _page_size(self, node: FieldNode) -> int:
        """`first`, `last` (the smaller when both), else the default page; a variable not
        known yet is one item (the lower bound)."""
        default, largest = self.pages
        sizes: list[int] = []
        for name in ("first", "last"):
            known, value = self._argument(node, name)
            if not known:
                return 1 if self.variables is None else default
            if isinstance(value, int) and not isinstance(value, bool):
                sizes.append(value)
        if not sizes:
            return default
        return max(1, min(*sizes, largest))

    def _orders_by_usage(self, node: FieldNode) -> bool:
        """Whether the connection orders by a usage figure or filters by `hasUsageIn` (an
        unknown variable: not, the lower bound)."""
        known, order = self._argument(node, "orderBy")
        by_usage = known and self._input_field(order, "field") not in (None, "NAME")
        known, wanted = self._argument(node, "filter")
        return by_usage or (known and self._input_field(wanted, "hasUsageIn") is not None)

    def _input_field(self, value: Any, name: str) -> Any:
        """A field of an input object given literally or by a variable (None: absent)."""
        if isinstance(value, Mapping):
            return value.get(name)
        if not isinstance(value, ObjectValueNode):
            return None
        given = next((f.value for f in value.fields if f.name.value == name), None)
        if given is None:
            return None
        if isinstance(given, EnumValueNode):
            return given.value
        known, inner = self._value(given)
        return inner if known else None

    def _count(self, known: bool, value: Any, estimate: int) -> int:
        """A list argument's length (a single value coerces to a list of one)."""
        if not known:
            return 1 if self.variables is None else estimate
        if isinstance(value, list):
            return max(1, len(value))
        return 1

    def _months(self, node: FieldNode) -> int:
        first_known, first = self._argument(node, "firstMonth")
        last_known, last = self._argument(node, "lastMonth")
        if not (first_known and last_known):
            return 1 if self.variables is None else MAX_MONTHS
        start, end = _month_index(first), _month_index(last)
        if start is None or end is None:
            return 1  # refused by the field itself
        return max(1, min(end - start + 1, MAX_MONTHS))

    def _ranked(self, node: FieldNode) -> bool:
        known, ranked_by = self._argument(node, "rankedBy")
        if not known:
            return self.variables is not None  # lower bound: not ranked
        return ranked_by is not None

    def _argument(self, node: FieldNode, name: str) -> tuple[bool, Any]:
        """(known, value) of an argument: absent is (True, None); a variable is known only
        from the request's variables (else it marks the document variable-sized)."""
        argument = next((a for a in node.arguments or () if a.name.value == name), None)
        if argument is None:
            return True, None
        return self._value(argument.value)

    def _value(self, value: ValueNode) -> tuple[bool, Any]:
        if isinstance(value, VariableNode):
            self.variable_sized = True
            if self.variables is None or value.name.value not in self.variables:
                return False, None
            return True, self.variables[value.name.value]
        if isinstance(value, NullValueNode):
            return True, None
        if isinstance(value, ListValueNode):
            return True, list(value.values)  # only its length matters
        if isinstance(value, IntValueNode):
            try:
                return True, int(value.value)
            except ValueError:  # more digits than int() converts: validation refuses it
                return True, None
        if isinstance(value, StringValueNode):
            return True, value.value
        return True, value  # an object (rankedBy), enum, ...: present


def _is_connection_page(parent: str, name: str) -> bool:
    """A connection's `edges` or `nodes`: `OrganizationConnection.nodes`, ..."""
    return parent.endswith("Connection") and name in ("edges", "nodes")


def _definition(parent: Any, name: str) -> Any:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return parent.fields.get(name)
    return None


def fragment_order(fragments: Mapping[str, FragmentDefinitionNode]) -> tuple[list[str], bool]:
    """Fragment names, each after every fragment it spreads, and whether some fragment spreads
    itself (directly or not). An iterative depth-first search: a chain of thousands of
    fragments is no recursion. A spread that closes a cycle is left out of the order's
    constraints; the cycle itself is graphql-core's NoFragmentCyclesRule's to refuse."""
    spreads = {name: list(spread_names(f.selection_set)) for name, f in fragments.items()}
    order: list[str] = []
    cyclic = False
    state: dict[str, bool] = {}  # False: on the current path; True: done
    for start in fragments:
        if start in state:
            continue
        state[start] = False
        stack = [(start, iter(spreads[start]))]
        while stack:
            name, pending = stack[-1]
            target = next(pending, None)
            if target is None:
                stack.pop()
                state[name] = True
                order.append(name)
            elif target in fragments:
                seen = state.get(target)
                if seen is None:
                    state[target] = False
                    stack.append((target, iter(spreads[target])))
                elif seen is False:
                    cyclic = True
    return order, cyclic


def spread_names(selection_set: SelectionSetNode) -> Iterable[str]:
    """Names of the fragments spread anywhere in `selection_set` (nested fields included)."""
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif (
                isinstance(selection, FieldNode | InlineFragmentNode)
                and selection.selection_set is not None
            ):
                pending.append(selection.selection_set)


def _month_index(value: Any) -> int | None:
    match = _MONTH.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    return int(match[1]) * 12 + int(match[2]) - 1


def _capped(value: int) -> int:
    return min(value, SATURATION)
