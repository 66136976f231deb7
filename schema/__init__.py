"""The GraphQL schema: Reseller → Organization → Agent / User, each with usage over a range.

Builds and exports `schema` (default limits; `build_schema(limits)` makes one per app);
`usagegraph export-schema` prints its SDL into `schema.graphql`.
"""

from __future__ import annotations

import logging
from datetime import date

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from clients.errors import UpstreamError
from resolvers.errors import GraphError
from schema.budget import UpstreamBudget
from schema.debug import OperationTelemetry, operation_tracing
from schema.errors import ErrorCodes
from schema.inputs import DATE_SCALAR
from schema.limits import SchemaLimits, limit_extensions
from schema.query import Query

__all__ = ["Query", "SchemaLimits", "UsageGraphSchema", "build_schema", "schema"]

log = logging.getLogger("usagegraph.graphql")


class UsageGraphSchema(strawberry.Schema):
    """Logs expected errors as one line each; unexpected ones are logged (with their traceback
    and request id) by `ErrorCodes`, and the caller's own mistakes only at debug level."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            original = error.original_error
            if isinstance(original, GraphError | UpstreamError):
                path = ".".join(map(str, error.path or ()))
                log.warning("%s at %s: %s", original.code, path, original)
            elif error.path is None:
                log.debug("rejected operation: %s", error.message)


def build_schema(limits: SchemaLimits | None = None) -> UsageGraphSchema:
    """The schema with `limits` enforced (the defaults when None); each app builds its own from
    its settings, since limits differ per deployment. The SDL never depends on them."""
    return UsageGraphSchema(
        query=Query,
        scalar_overrides={date: DATE_SCALAR},  # strict YYYY-MM-DD (see schema/inputs.py)
        # ErrorCodes first: its after-operation code runs last, so it shapes the limits' errors;
        # only OperationTelemetry (metrics, log line, debug) wraps it, to see the final codes
        extensions=[
            OperationTelemetry,
            operation_tracing,
            ErrorCodes,
            UpstreamBudget,
            *limit_extensions(limits or SchemaLimits()),
        ],
    )


schema = build_schema()
