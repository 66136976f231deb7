"""Plain parts of an answer completed in one step, without graphql-core's per-field machinery.

Most of a usage answer is read off plain objects: `VoiceUsage.seconds`, `Money.amount`, the
`voice`/`sms`/`costs` objects of a `Usage`. For each field graphql-core builds a resolve info
and a path, looks at the arguments, checks for awaitables and completes the value through
several calls. A field is read here directly, with its whole sub-selection, when its resolver is
one of schema/direct.py's plain readers (no `info`, no arguments), or carries a plain reader of
its own (`PLAIN_READER`: `Organization.usage` answered ahead for its whole list, schema/ahead.py)
and every field below it is plain too: leaves are coerced, lists and objects (of types with no
`is_type_of` check of their own) are walked the same way. This applies only when no middleware wraps
resolvers (a tracing extension would).

What to do for a field under a selection is worked out once per request (a plan per parent type
and field group, as graphql-core memoizes sub-selections), then run for every list item.

Anything unusual sends the field back to graphql-core, which reads it again and answers exactly
as before: an exception, null where the schema says non-null, a value that does not coerce, a
non-plain field anywhere below it, `@defer`, a plain reader without an answer. The readers are
pure, so reading twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    Undefined,
)
from graphql.pyutils import Path

from usagegraph.schema.arguments import argument_errors
from usagegraph.schema.compat import (
    FieldDetailsList,
    GroupedFieldSet,
    StrawberryGraphQLCoreExecutionContext,
)
from usagegraph.schema.connections import bounds_of
from usagegraph.schema.direct import PLAIN_READER, is_plain
from usagegraph.schema.phase import mark_executing

__all__ = ["PlainExecutor"]

_NOT_PLAIN: Final = object()

# a field's value from its parent (`read(source, None)`), and that value completed
Read = Callable[[Any, None], Any]
Complete = Callable[[Any], Any]
FieldPlan = tuple[Read, Complete]


class PlainExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, completing plain fields directly (see the module docstring),
    after refusing arguments no resolver would take (schema/arguments.py)."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        mark_executing()  # variables are coerced: from here on, `data` is in the answer
        errors = argument_errors(self, bounds_of(self.context_value))
        if errors:
            # before any resolver: `data: null` and the reasons, nothing called upstream
            self.collected_errors.errors.extend(errors)
            return self.finish(self.build_response(None))
        return super().execute_operation(serially)

    _plans: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, FieldPlan | None]]
    _items: dict[tuple[GraphQLOutputType, int], tuple[FieldDetailsList, Complete | None]]

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        middleware = self.middleware_manager
        if middleware is not None and middleware.middlewares:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        plain: dict[str, Any] = {}
        others: GroupedFieldSet = {}
        for response_name, details in grouped_field_set.items():
            value = _NOT_PLAIN
            plan = self._field_plan(parent_type, details)
            if plan is not None:
                read, complete = plan
                try:
                    value = complete(read(source_value, None))
                except Exception:
                    value = _NOT_PLAIN
            if value is _NOT_PLAIN:
                others[response_name] = details
            else:
                plain[response_name] = value
        if not others:
            return plain
        if not plain:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        rest = super().execute_fields(parent_type, source_value, path, others, position_context)
        if isinstance(rest, dict):  # else an awaitable of one
            return _merged(grouped_field_set, plain, rest)
        return _merged_later(grouped_field_set, plain, rest)

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Path,
        items: Any,
        position_context: Any,
    ) -> Any:
        """A list whose items are all plain (an organization list answered ahead) is completed
        in one step too: graphql-core would complete each item through several calls."""
        complete = self._item_completer(item_type, field_details_list)
        if (
            complete is not None
            and isinstance(items, list)
            and not self.get_stream_usage(field_details_list, path)
        ):
            try:
                completed = [complete(item) for item in items]
            except Exception:
                completed = [_NOT_PLAIN]
            if _NOT_PLAIN not in completed:
                return completed
        return super().complete_iterable_value(
            item_type, field_details_list, info, path, items, position_context
        )

    def _item_completer(
        self, item_type: GraphQLOutputType, details: FieldDetailsList
    ) -> Complete | None:
        middleware = self.middleware_manager
        if middleware is not None and middleware.middlewares:
            return None
        items = self.__dict__.get("_items")
        if items is None:
            items = self._items = {}
        key = (item_type, id(details))
        kept = items.get(key)
        if kept is None:
            kept = items[key] = (details, self._completer(item_type, details))
        return kept[1]

    def _field_plan(
        self, parent_type: GraphQLObjectType, details: FieldDetailsList
    ) -> FieldPlan | None:
        """How to read and complete this field group, or None when it is not plain; worked out
        once per request. The group is kept with its plan, so its id names only it."""
        plans = self.__dict__.get("_plans")
        if plans is None:
            plans = self._plans = {}
        key = (parent_type, id(details))
        kept = plans.get(key)
        if kept is None:
            kept = plans[key] = (details, self._new_field_plan(parent_type, details))
        return kept[1]

    def _new_field_plan(
        self, parent_type: GraphQLObjectType, details: FieldDetailsList
    ) -> FieldPlan | None:
        node = details[0].node
        field = self.schema.get_field(parent_type, node.name.value)
        if field is None:
            return None
        reader = getattr(field.resolve, PLAIN_READER, None)
        if reader is not None:
            read: Read | None = reader([d.node for d in details], self.context_value)
        elif node.arguments or field.args or not is_plain(field.resolve):
            read = None
        else:
            read = field.resolve
        if read is None:
            return None
        complete = self._completer(field.type, details)
        return None if complete is None else (read, complete)

    def _completer(
        self, value_type: GraphQLOutputType, details: FieldDetailsList
    ) -> Complete | None:
        """A function completing a value of `value_type` (or answering _NOT_PLAIN), or None
        when no value of it can be completed here."""
        non_null = isinstance(value_type, GraphQLNonNull)
        if isinstance(value_type, GraphQLNonNull):
            value_type = value_type.of_type
        if isinstance(value_type, GraphQLScalarType | GraphQLEnumType):
            return _leaf(value_type, non_null)
        if isinstance(value_type, GraphQLList):
            item = self._completer(value_type.of_type, details)
            return None if item is None else _list(item, non_null)
        if isinstance(value_type, GraphQLObjectType) and _pure_type_check(value_type):
            grouped, deferred, _ = self.collect_subfields(value_type, details)
            if deferred:
                return None
            fields: list[tuple[str, Read, Complete]] = []
            for response_name, sub_details in grouped.items():
                plan = self._field_plan(value_type, sub_details)
                if plan is None:
                    return None
                fields.append((response_name, *plan))
            return _object(fields, value_type.is_type_of, non_null)
        return None  # interfaces and unions, or a type with a check of its own


def _pure_type_check(object_type: GraphQLObjectType) -> bool:
    """No `is_type_of`, or Strawberry's own: an isinstance check of the type and its interfaces
    (`Usage` implements `UsageFigures`) that never reads its `info`. One a type defines itself
    may."""
    if object_type.is_type_of is None:
        return True
    definition = object_type.extensions.get("strawberry-definition")
    return definition is not None and definition.is_type_of is None


def _leaf(leaf_type: GraphQLScalarType | GraphQLEnumType, non_null: bool) -> Complete:
    coerce = leaf_type.coerce_output_value

    def complete(value: Any) -> Any:
        if value is None:
            return _NOT_PLAIN if non_null else None
        if isinstance(value, Exception):
            return _NOT_PLAIN
        coerced = coerce(value)  # raising: the caller answers _NOT_PLAIN
        return _NOT_PLAIN if coerced is None or coerced is Undefined else coerced

    return complete


def _list(item: Complete, non_null: bool) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return _NOT_PLAIN if non_null else None
        if not isinstance(value, list | tuple):
            return _NOT_PLAIN
        items = [item(v) for v in value]
        return _NOT_PLAIN if _NOT_PLAIN in items else items

    return complete


def _object(
    fields: list[tuple[str, Read, Complete]],
    is_type_of: Callable[[Any, Any], Any] | None,
    non_null: bool,
) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return _NOT_PLAIN if non_null else None
        if isinstance(value, Exception):
            return _NOT_PLAIN
        if is_type_of is not None and is_type_of(value, None) is not True:
            return _NOT_PLAIN  # graphql-core reports the wrong type
        completed: dict[str, Any] = {}
        for response_name, read, sub in fields:
            sub_value = sub(read(value, None))
            if sub_value is _NOT_PLAIN:
                return _NOT_PLAIN
            completed[response_name] = sub_value
        return completed

    return complete


def _merged(
    grouped_field_set: GroupedFieldSet, plain: dict[str, Any], rest: dict[str, Any]
) -> dict[str, Any]:
    """Both halves in the order the query asked for them (what the response shows)."""
    return {
        name: plain[name] if name in plain else rest[name]
        for name in grouped_field_set
        if name in plain or name in rest
    }


async def _merged_later(
    grouped_field_set: GroupedFieldSet, plain: dict[str, Any], rest: Awaitable[dict[str, Any]]
) -> dict[str, Any]:
    return _merged(grouped_field_set, plain, await rest)
