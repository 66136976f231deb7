"""Error shaping: every error leaves with an `extensions.code`, and nothing unexpected leaks.

Our own errors (`GraphError`, and `UpstreamError` raised straight through) keep their message and
code. Parse and validation errors get GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED, except
bad argument values, which are BAD_USER_INPUT, and the query limits' refusals (QUERY_TOO_COMPLEX,
INTROSPECTION_DISABLED, see schema/limits.py). Anything else is masked as INTERNAL_SERVER_ERROR
with a request id that is also in the log, so the stack trace stays on our side.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from usagegraph.clients.errors import UpstreamError
from usagegraph.resolvers.errors import GraphError, SourceFailure
from usagegraph.schema.limits import limit_code

from usagegraph.telemetry import current_request_id

__all__ = ["ErrorCodes"]

log = logging.getLogger("usagegraph.errors")

# graphql-core's messages for values that do not fit an argument's type
_INPUT_MARKERS = (
    "cannot represent",
    "Expected value of type",
    "Expected type",
    "got invalid value",
    "of required type",
    "was not provided",
    "Invalid isoformat",
    "is not a valid",
    "does not exist in",  # an enum value the enum does not have
    "Expected value of non-null type",  # null for a required argument or list item
)


def _code_for(error: GraphQLError) -> str | None:
    original = error.original_error
    if isinstance(original, GraphError):
        return None  # already carries its own extensions
    if error.path is not None:
        return "INTERNAL_SERVER_ERROR"  # raised while resolving: a bug, never shown as is
    if (limit := limit_code(error.message)) is not None:
        return limit  # depth, aliases, tokens, introspection (schema/limits.py)
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if original is not None or any(m in error.message for m in _INPUT_MARKERS):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


def _source_failure(error: GraphQLError, upstream: UpstreamError) -> GraphQLError:
    """A vendor error a resolver let through unwrapped, shaped as `SourceFailure` is: its
    one-line text and {code, source} (graphql-core alone would keep neither)."""
    failure = SourceFailure([upstream])
    return GraphQLError(
        str(failure),
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=failure,
        extensions=failure.extensions,
    )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        shaped: list[GraphQLError] = []
        for error in result.errors:
            if isinstance(error.original_error, UpstreamError):
                shaped.append(_source_failure(error, error.original_error))
                continue
            code = _code_for(error)
            if code is None:
                shaped.append(error)
                continue
            extensions = dict(error.extensions or {})
            if code == "INTERNAL_SERVER_ERROR" and error.path is not None:
                # the HTTP request's id (also on its log lines and X-Request-Id header)
                request_id = current_request_id() or uuid.uuid4().hex[:16]
                log.error(
                    "unexpected error at %s (request id %s)",
                    ".".join(map(str, error.path)),
                    request_id,
                    exc_info=error.original_error,
                )
                extensions.update(code=code, requestId=request_id)
                shaped.append(
                    GraphQLError(
                        f"Internal server error (request id {request_id})",
                        nodes=error.nodes,
                        path=error.path,
                        extensions=extensions,
                    )
                )
                continue
            extensions.setdefault("code", code)
            shaped.append(
                GraphQLError(
                    error.message,
                    nodes=error.nodes,
                    source=error.source,
                    positions=error.positions,
                    path=error.path,
                    original_error=error.original_error,
                    extensions=extensions,
                )
            )
        result.errors = shaped
