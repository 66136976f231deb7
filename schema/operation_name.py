"""A document with several operations runs only the one the request names.

The GraphQL spec (GetOperation): when the request gives no operation name, the document must
hold exactly one operation, else "Must provide operation name if query contains multiple
operations." Strawberry instead falls back to the document's first operation once it is parsed
(`ExecutionContext.operation_name`), so `query A {...} query B {...}` without `operationName`
ran A. `OperationNameRequired` restores the spec: before the document is parsed the execution
context's `operation_name` is still the request's own, and when the request gave none a
validation rule refuses a document of several operations (GRAPHQL_VALIDATION_FAILED, nothing
executed). schema/validation.py runs the rule apart from the cached verdict of the document,
since that verdict serves requests that name their operation too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, ValidationRule
from graphql.language import SKIP, VisitorAction
from strawberry.extensions import SchemaExtension

__all__ = ["MULTIPLE_OPERATIONS", "OperationNameRequired", "SeveralOperationsNeedAName"]

MULTIPLE_OPERATIONS = "Must provide operation name if query contains multiple operations."


class SeveralOperationsNeedAName(ValidationRule):
    """Refuses a document holding more than one operation (added only when the request named
    none)."""

    def enter_document(self, node: DocumentNode, *_args: Any) -> VisitorAction:
        operations = [d for d in node.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) > 1:
            self.report_error(
                GraphQLError(
                    MULTIPLE_OPERATIONS,
                    operations,
                    extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
                )
            )
        return SKIP  # nothing below the document concerns this rule


class OperationNameRequired(SchemaExtension):
    """Adds `SeveralOperationsNeedAName` to the validation of a request that named no
    operation."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        # before parsing (no document yet) this is the request's operationName, never a
        # fallback; a document set already (by a caller of schema.execute) proves nothing
        if context.graphql_document is None and context.operation_name is None:
            context.validation_rules = (*context.validation_rules, SeveralOperationsNeedAName)
        yield
