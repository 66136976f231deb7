"""Field merging (the spec's FieldsInSetCanMerge), checked in time linear in the document.

graphql-core's OverlappingFieldsCanBeMergedRule compares every pair of fields that share a
response name, and the fields below each pair again: 300 copies of `resellers { id }` (1,200
tokens) take 0.4 s, and its complexity budget does not bound that time. `FieldMergingRule`
gives the same verdicts comparing each field once, with the approach of apollo-compiler:

- The fields that share a response name (fragments expanded, each named fragment once per
  set: spreading it again adds identical fields) must have the same response shape. Not
  conflicting (`_types_conflict`) is an equivalence, so each is compared with the first.
- Two of them whose parents may be the same object (the same type, or an interface or union)
  must be the same field with the same arguments: each is compared with the first of its
  parent type, or with the first abstract-parent field, which every one must equal.
- Their sub-selections are then checked as one merged set: all of them for the shape, and per
  parent type (with the abstract-parent fields) for names and arguments.

A document with a fragment cycle is left to graphql-core's NoFragmentCyclesRule (expanding it
would never end). A work budget bounds the rest: past `WORK_BUDGET` collected fields the
document is refused as too complex (no realistic operation comes near it; the query analysis
in schema/analysis.py refuses most such documents first).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from graphql import (
    BooleanValueNode,
    EnumValueNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    SelectionSetNode,
    StringValueNode,
    ValidationRule,
    ValueNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
)
from graphql.language import DocumentNode, OperationDefinitionNode

from usagegraph.schema.analysis import fragment_order

__all__ = ["WORK_BUDGET", "FieldMergingRule", "MergeBudgetExceeded"]

WORK_BUDGET = 50_000  # fields collected into merged sets, for one document

_Parent = GraphQLNamedType | None
_Source = tuple[_Parent, SelectionSetNode]


class MergeBudgetExceeded(GraphQLError):
    """The document needs more merging work than `WORK_BUDGET` allows (QUERY_TOO_COMPLEX)."""


class _Item:
    """One field node with its parent type and definition."""

    __slots__ = ("definition", "node", "parent")

    def __init__(self, parent: _Parent, node: FieldNode, definition: GraphQLField | None) -> None:
        self.parent = parent
        self.node = node
        self.definition = definition


class _OutOfBudget(Exception):
    pass


class FieldMergingRule(ValidationRule):
    """Fields sharing a response name must merge: same shape, and the same field and arguments
    wherever their parents may coincide. Replaces OverlappingFieldsCanBeMergedRule."""

    def enter_document(self, node: DocumentNode, *_args: Any) -> Any:
        fragments = {
            d.name.value: d for d in node.definitions if isinstance(d, FragmentDefinitionNode)
        }
        if fragment_order(fragments)[1]:
            return self.BREAK  # NoFragmentCyclesRule reports it; nothing merges forever
        self._fragments = fragments
        self._budget = WORK_BUDGET
        self._arguments: dict[int, Any] = {}
        self._reported: set[tuple[int, int]] = set()
        schema = self.context.schema
        try:
            for definition in node.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    root = schema.get_root_type(definition.operation)
                    self._check([(root, definition.selection_set)])
        except _OutOfBudget:
            self.report_error(
                MergeBudgetExceeded(
                    "The document is too complex to validate: its fields take more than "
                    f"{WORK_BUDGET} comparisons to merge.",
                    extensions={"code": "QUERY_TOO_COMPLEX"},
                )
            )
        return self.BREAK  # every selection set was reached from the operations

    def _check(self, root: list[_Source]) -> None:
        # breadth first, with a queue: nesting never becomes recursion
        pending: deque[tuple[list[_Source], bool, tuple[str, ...]]] = deque()
        pending.append((root, False, ()))
        while pending:
            sources, exclusive, path = pending.popleft()
            for name, items in self._collect(sources).items():
                self._check_group((*path, name), items, exclusive, pending)

    def _check_group(
        self,
        path: tuple[str, ...],
        items: list[_Item],
        exclusive: bool,
        pending: deque[tuple[list[_Source], bool, tuple[str, ...]]],
    ) -> None:
        if len(items) > 1:
            conflict = not exclusive and self._check_same_fields(path, items)
            if conflict or self._check_shapes(path, items):
                return  # as graphql-core: the fields below a conflict are not compared
        nested = [i for i in items if i.node.selection_set is not None]
        if not nested:
            return
        if exclusive:
            pending.append((_sources(nested), True, path))
            return
        # fields whose parents cannot both apply (two object types) need only the same shape
        abstract = [i for i in nested if not isinstance(i.parent, GraphQLObjectType)]
        by_parent: dict[int, list[_Item]] = {}
        for item in nested:
            if isinstance(item.parent, GraphQLObjectType):
                by_parent.setdefault(id(item.parent), []).append(item)
        if len(by_parent) <= 1:
            pending.append((_sources(nested), False, path))
            return
        pending.append((_sources(nested), True, path))
        for group in by_parent.values():
            pending.append((_sources(group + abstract), False, path))

    def _check_shapes(self, path: tuple[str, ...], items: list[_Item]) -> bool:
        """Report (and say) whether some field's type conflicts with the first typed one's."""
        typed = [i for i in items if i.definition is not None]
        if len(typed) < 2:
            return False
        first = typed[0]
        for other in typed[1:]:
            type1 = first.definition.type  # type: ignore[union-attr]
            type2 = other.definition.type  # type: ignore[union-attr]
            if _types_conflict(type1, type2):
                reason = f"they return conflicting types '{type1}' and '{type2}'"
                self._report(path, reason, first, other)
                return True
        return False

    def _check_same_fields(self, path: tuple[str, ...], items: list[_Item]) -> bool:
        """Report (and say) whether two fields that may both apply differ in name or
        arguments."""
        abstract = [i for i in items if not isinstance(i.parent, GraphQLObjectType)]
        if abstract:
            groups = [[abstract[0], *items]]  # may coincide with every other one
        else:
            by_parent: dict[int, list[_Item]] = {}
            for item in items:
                by_parent.setdefault(id(item.parent), []).append(item)
            groups = list(by_parent.values())
        for group in groups:
            first = group[0]
            for other in group[1:]:
                if first.node.name.value != other.node.name.value:
                    reason = (
                        f"'{first.node.name.value}' and '{other.node.name.value}' are "
                        "different fields"
                    )
                    self._report(path, reason, first, other)
                    return True
                if self._argument_key(first.node) != self._argument_key(other.node):
                    self._report(path, "they have differing arguments", first, other)
                    return True
        return False

    def _collect(self, sources: Iterable[_Source]) -> dict[str, list[_Item]]:
        """The fields of `sources` by response name, inline fragments flattened and each named
        fragment expanded once."""
        groups: dict[str, list[_Item]] = {}
        expanded: set[str] = set()
        stack = list(sources)
        stack.reverse()
        while stack:
            parent, selection_set = stack.pop()
            inner: list[_Source] = []
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    self._budget -= 1
                    if self._budget < 0:
                        raise _OutOfBudget
                    name = selection.name.value
                    definition = (
                        parent.fields.get(name)
                        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
                        else None
                    )
                    key = selection.alias.value if selection.alias else name
                    groups.setdefault(key, []).append(_Item(parent, selection, definition))
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    kind = self._type(condition.name.value) if condition else parent
                    inner.append((kind, selection.selection_set))
                elif isinstance(selection, FragmentSpreadNode):
                    fragment = self._fragments.get(selection.name.value)
                    if fragment is None or fragment.name.value in expanded:
                        continue
                    expanded.add(fragment.name.value)
                    inner.append(
                        (self._type(fragment.type_condition.name.value), fragment.selection_set)
                    )
            inner.reverse()
            stack.extend(inner)
        return groups

    def _type(self, name: str) -> _Parent:
        return self.context.schema.get_type(name)

    def _argument_key(self, node: FieldNode) -> Any:
        key = self._arguments.get(id(node))
        if key is None:
            key = frozenset((a.name.value, _value_key(a.value)) for a in node.arguments or ())
            self._arguments[id(node)] = key
        return key

    def _report(self, path: tuple[str, ...], reason: str, first: _Item, other: _Item) -> None:
        pair = (id(first.node), id(other.node))
        if pair in self._reported:
            return  # the same fields met again through another spread of their fragment
        self._reported.add(pair)
        self.report_error(
            GraphQLError(
                f"Fields '{'.'.join(path)}' conflict because {reason}. Use different aliases "
                "on the fields to fetch both if this was intentional.",
                [first.node, other.node],
            )
        )


def _sources(items: list[_Item]) -> list[_Source]:
    return [
        (get_named_type(i.definition.type) if i.definition is not None else None, set_)
        for i in items
        if (set_ := i.node.selection_set) is not None
    ]


def _types_conflict(type1: GraphQLOutputType, type2: GraphQLOutputType) -> bool:
    """Whether two field types could not hold the same response value: lists and non-nulls
    must match; leaves must be the same type; objects are compared field by field later."""
    while True:
        if type1 is type2:
            return False
        if isinstance(type1, GraphQLList) or isinstance(type2, GraphQLList):
            if not (isinstance(type1, GraphQLList) and isinstance(type2, GraphQLList)):
                return True
        elif isinstance(type1, GraphQLNonNull) or isinstance(type2, GraphQLNonNull):
            if not (isinstance(type1, GraphQLNonNull) and isinstance(type2, GraphQLNonNull)):
                return True
        else:
            return is_leaf_type(type1) or is_leaf_type(type2)
        type1, type2 = type1.of_type, type2.of_type


def _value_key(value: ValueNode) -> Any:
    """A hashable form of an argument value, equal for equal values (object fields in any
    order), as graphql-core compares them."""
    if isinstance(value, VariableNode):
        return ("$", value.name.value)
    if isinstance(value, ListValueNode):
        return ("[", tuple(_value_key(v) for v in value.values))
    if isinstance(value, ObjectValueNode):
        return ("{", frozenset((f.name.value, _value_key(f.value)) for f in value.fields))
    if isinstance(value, StringValueNode):
        return ("s", value.value, bool(value.block))
    if isinstance(value, NullValueNode):
        return ("null",)
    if isinstance(value, IntValueNode | FloatValueNode | BooleanValueNode | EnumValueNode):
        return (type(value).__name__, value.value)
    return ("?", repr(value))  # pragma: no cover - every value kind is handled above
