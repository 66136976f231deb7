"""The GraphQL schema: Reseller → Organization → Agent / User, each with usage over a range.

Builds and exports `schema`; `usagegraph export-schema` prints its SDL into `schema.graphql`.
"""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from clients.errors import UpstreamError
from resolvers.errors import GraphError
from schema.budget import UpstreamBudget
from schema.errors import ErrorCodes
from schema.query import Query

__all__ = ["Query", "UsageGraphSchema", "schema"]

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


schema = UsageGraphSchema(query=Query, extensions=[ErrorCodes, UpstreamBudget])
