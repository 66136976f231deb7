"""Plain parts of an answer completed in one step, without graphql-core's per-field machinery.

Most of a usage answer is read off plain objects: `VoiceUsage.seconds`, `Money.amount`, the
`voice`/`sms`/`costs` objects of a `Usage`. For each field graphql-core builds a resolve info
and a path, looks at the arguments, checks for awaitables and completes the value through
several calls. A field whose resolver is one of schema/direct.py's plain readers (no `info`, no
arguments) is read here directly, with its whole sub-selection when that is plain too: leaves
are coerced, lists and objects (of types with no `is_type_of` check) are walked the same way.
This applies only when no middleware wraps resolvers (a tracing extension would).

Anything unusual sends the field back to graphql-core, which reads it again and answers exactly
as before: an exception, null where the schema says non-null, a value that does not coerce, a
non-plain field anywhere below it, `@defer`. The readers are pure, so reading twice changes
nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable
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
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.arguments import DEFAULT_MAX_RANGE_DAYS, argument_errors
from schema.direct import is_plain
from schema.phase import mark_executing

__all__ = ["PlainExecutor"]

_NOT_PLAIN: Final = object()


class PlainExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, completing plain fields directly (see the module docstring),
    after refusing arguments no resolver would take (schema/arguments.py)."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        mark_executing()  # variables are coerced: from here on, `data` is in the answer
        service = getattr(self.context_value, "service", None)
        max_days = getattr(service, "max_range_days", DEFAULT_MAX_RANGE_DAYS)
        errors = argument_errors(self, max_days)
        if errors:
            # before any resolver: `data: null` and the reasons, nothing called upstream
            self.collected_errors.errors.extend(errors)
            return self.finish(self.build_response(None))
        return super().execute_operation(serially)

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
            value = self._plain_field(parent_type, source_value, details)
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
        if self.is_awaitable(rest):
            return _merged_later(grouped_field_set, plain, rest)
        return _merged(grouped_field_set, plain, rest)

    def _plain_field(
        self, parent_type: GraphQLObjectType, source: Any, details: FieldDetailsList
    ) -> Any:
        """The field's completed value, or _NOT_PLAIN."""
        node = details[0].node
        field = self.schema.get_field(parent_type, node.name.value)
        if field is None or node.arguments or field.args or not is_plain(field.resolve):
            return _NOT_PLAIN
        try:
            value = field.resolve(source, None)  # type: ignore[misc]
        except Exception:
            return _NOT_PLAIN
        return self._plain_value(field.type, value, details)

    def _plain_value(
        self, value_type: GraphQLOutputType, value: Any, details: FieldDetailsList
    ) -> Any:
        non_null = isinstance(value_type, GraphQLNonNull)
        if non_null:
            value_type = value_type.of_type  # type: ignore[union-attr]
        if value is None:
            return _NOT_PLAIN if non_null else None
        if isinstance(value, Exception):
            return _NOT_PLAIN
        if isinstance(value_type, GraphQLScalarType | GraphQLEnumType):
            try:
                coerced = value_type.coerce_output_value(value)
            except Exception:
                return _NOT_PLAIN
            return _NOT_PLAIN if coerced is None or coerced is Undefined else coerced
        if isinstance(value_type, GraphQLList):
            if not isinstance(value, list | tuple):
                return _NOT_PLAIN
            items = [self._plain_value(value_type.of_type, item, details) for item in value]
            return _NOT_PLAIN if any(item is _NOT_PLAIN for item in items) else items
        if isinstance(value_type, GraphQLObjectType) and value_type.is_type_of is None:
            grouped, deferred, _ = self.collect_subfields(value_type, details)
            if deferred:
                return _NOT_PLAIN
            completed: dict[str, Any] = {}
            for response_name, sub_details in grouped.items():
                sub = self._plain_field(value_type, value, sub_details)
                if sub is _NOT_PLAIN:
                    return _NOT_PLAIN
                completed[response_name] = sub
            return completed
        return _NOT_PLAIN  # interfaces and unions, or a type that checks its values


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
