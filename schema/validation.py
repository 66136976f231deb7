"""Validation, once per document: the query limits first, then graphql-core's rules.

`validation_extensions(limits)` replaces Strawberry's ValidationCache, QueryDepthLimiter and
MaxAliasesLimiter. For a document not seen before, `check_document`:

1. analyses it in one pass (schema/analysis.py: depth, aliases, cost, each fragment once) and
   refuses it over a limit with one QUERY_TOO_COMPLEX error, before any other rule runs;
2. else validates it with graphql-core's rules, its quadratic field-merging rule replaced by a
   linear one (schema/overlap.py), and "Did you mean ...?" suggestions hidden when
   introspection is off (they would name fields, arguments, types and enum values).

The outcome is kept per document object (schema/documents.py hands the same object back for
the same text; the verdict holds it weakly), so a dashboard's repeated operation is neither
parsed nor validated again; a new operation name is a new text, checked afresh, in time linear
in its size. A document that is not small is checked on a worker thread (schema/offload.py):
graphql-core's rules take time per field, so the 2,000 tokens `[limits] max_tokens` allows could
hold the event loop for tens of milliseconds (see
docs/measurements.md#parsing-and-validating-off-the-event-loop).

Then, per request: `_service` (Federation's SDL) is refused with INTROSPECTION_DISABLED when
introspection is off, unless the caller's key has the `federation` role; and when a list size
comes from the variables (`ids: $ids`, `first: $n`, ...), the cost is worked out again with
the request's own variables.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    OverlappingFieldsCanBeMergedRule,
    specified_rules,
    validate,
)
from graphql.execution import Executor
from strawberry.extensions import MaxTokensLimiter, SchemaExtension

from usagegraph.schema.analysis import DocumentAnalysis, analyse
from usagegraph.schema.compat import STRAWBERRY_RULES, graphql_schema
from usagegraph.schema.errors import coded_rule
from usagegraph.schema.limits import SchemaLimits, introspection_refusal, limit_error
from usagegraph.schema.offload import off_loop
from usagegraph.schema.operation_name import SeveralOperationsNeedAName
from usagegraph.schema.overlap import FieldMergingRule

__all__ = [
    "DocumentChecks",
    "check_document",
    "quiet_executor",
    "validation_extensions",
    "validation_rules",
]


def validation_rules(limits: SchemaLimits) -> tuple[type[ASTValidationRule], ...]:
    """graphql-core's rules (linear field merging instead of the quadratic one), Strawberry's
    two, and the introspection ban when introspection is off; each reporting the error code of
    its errors where that is not GRAPHQL_VALIDATION_FAILED."""
    rules: list[type[ASTValidationRule]] = [
        FieldMergingRule if rule is OverlappingFieldsCanBeMergedRule else rule
        for rule in specified_rules
    ]
    rules += STRAWBERRY_RULES
    if not limits.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    # the rules judging the caller's values report BAD_USER_INPUT (schema/errors.py)
    return tuple(coded_rule(rule) for rule in rules)


@dataclass(frozen=True, slots=True)
class Checked:
    """A document's verdict: refused (`errors`), or valid with its `analysis`."""

    errors: tuple[GraphQLError, ...]
    analysis: DocumentAnalysis


def page_sizes(limits: SchemaLimits) -> tuple[int, int]:
    """The connection pages the cost analysis counts: (default, largest)."""
    return limits.default_page_size, limits.max_page_size


def check_document(schema: GraphQLSchema, document: DocumentNode, limits: SchemaLimits) -> Checked:
    """The document's verdict under `limits`, for any request (see the module docstring)."""
    analysis = analyse(schema, document, pages=page_sizes(limits))
    refusal = limit_error(analysis, limits)
    if refusal is not None:
        return Checked((refusal,), analysis)
    errors = validate(
        schema,
        document,
        validation_rules(limits),
        hide_suggestions=not limits.introspection,
    )
    return Checked(tuple(errors), analysis)


class DocumentChecks:
    """The verdicts of the last `maxsize` documents, shared by every request of one schema.

    A verdict holds its document weakly: the document cache (schema/documents.py) decides
    how long a document lives (a long one is large: docs/measurements.md), and a verdict whose
    document is gone can never be asked for again (a new parse is a new object)."""

    def __init__(self, limits: SchemaLimits, maxsize: int) -> None:
        self.limits = limits
        self.maxsize = maxsize
        self._verdicts: OrderedDict[int, tuple[weakref.ref[DocumentNode], Checked]] = OrderedDict()

    async def verdict(
        self, schema: GraphQLSchema, document: DocumentNode, source: str | None
    ) -> Checked:
        key = id(document)
        kept = self._verdicts.get(key)
        if kept is not None and kept[0]() is document:  # the same object, still alive
            self._verdicts.move_to_end(key)
            return kept[1]
        checked = await off_loop(source, check_document, schema, document, self.limits)
        self._verdicts[key] = (weakref.ref(document), checked)
        self._verdicts.move_to_end(key)
        while len(self._verdicts) > self.maxsize:
            self._verdicts.popitem(last=False)
        return checked


class _Validation(SchemaExtension):
    def __init__(self, checks: DocumentChecks) -> None:
        super().__init__()
        self.checks = checks

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            source = document.loc.source.body if document.loc is not None else context.query
            checked = await self.checks.verdict(graphql_schema(context.schema), document, source)
            errors = list(checked.errors)
            if not errors:
                errors = _unnamed_operation_errors(context, document)
            if not errors:
                errors = await self._request_errors(document, checked, context.variables, source)
            context.pre_execution_errors = errors
        yield

    async def _request_errors(
        self,
        document: DocumentNode,
        checked: Checked,
        variables: dict[str, Any] | None,
        source: str | None,
    ) -> list[GraphQLError]:
        limits = self.checks.limits
        service = checked.analysis.service
        if service is not None and not limits.introspection and not self._federation():
            return [introspection_refusal("_service", service)]
        if checked.analysis.variable_sized:
            schema = graphql_schema(self.execution_context.schema)
            # not an object: graphql-core refuses them when it coerces; sized as unknown here
            given = variables if isinstance(variables, dict) else {}
            analysis = await off_loop(
                source, analyse, schema, document, given, pages=page_sizes(limits)
            )
            refusal = limit_error(analysis, limits)
            if refusal is not None:
                return [refusal]
        return []

    def _federation(self) -> bool:
        identity = getattr(self.execution_context.context, "identity", None)
        return identity is not None and identity.has_role("federation")


def _unnamed_operation_errors(context: Any, document: DocumentNode) -> list[GraphQLError]:
    """The spec's "must provide operation name", for a request schema/operation_name.py marked
    as naming none. Not part of the cached verdict: the same document is fine for a request
    that names its operation."""
    if SeveralOperationsNeedAName not in context.validation_rules:
        return []
    # the rule looks only at the top-level definitions: with one operation (the common case)
    # it has nothing to say, and graphql-core's validate has a fixed cost even for one rule
    # (measured: see docs/measurements.md#parsing-and-validating-off-the-event-loop)
    if sum(isinstance(d, OperationDefinitionNode) for d in document.definitions) < 2:
        return []
    return validate(graphql_schema(context.schema), document, [SeveralOperationsNeedAName])


def validation_extensions(
    limits: SchemaLimits, cache_size: int
) -> list[Callable[[], SchemaExtension]]:
    """Extension factories enforcing `limits` (tokens while parsing, the rest while
    validating); they share one cache of `cache_size` documents' verdicts."""
    checks = DocumentChecks(limits, cache_size)
    return [
        partial(MaxTokensLimiter, max_token_count=limits.max_tokens),
        partial(_Validation, checks),
    ]


def quiet_executor(executor: type[Executor[Any]]) -> type[Executor[Any]]:
    """`executor` with graphql-core's suggestions hidden from variable and argument errors
    (introspection off: "Did you mean 'firstDay'?" would name the input's fields)."""

    # a subclass of a class given at run time, which mypy cannot follow
    class Quiet(executor):  # type: ignore[valid-type, misc]
        @classmethod
        def build(cls, *args: Any, **kwargs: Any) -> Any:
            kwargs["hide_suggestions"] = True
            return super().build(*args, **kwargs)

    Quiet.__name__ = Quiet.__qualname__ = f"Quiet{executor.__name__}"
    return Quiet
