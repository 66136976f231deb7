"""Error shaping: every error leaves with an `extensions.code`, and nothing unexpected leaks.

Our own errors (`GraphError`, and `UpstreamError` raised straight through) keep their message and
code, and so does every error raised with a code (the query limits' QUERY_TOO_COMPLEX and
INTROSPECTION_DISABLED, schema/limits.py). The others are told apart by type, never by their
wording: a `GraphQLSyntaxError` is GRAPHQL_PARSE_FAILED (QUERY_TOO_COMPLEX for the parser's token
limit); the validation rules that judge values the caller wrote report BAD_USER_INPUT
(`coded_rule`, which schema/validation.py applies), as does a variable graphql-core could not
coerce (its error keeps the coercion error as `original_error`); any other validation error is
GRAPHQL_VALIDATION_FAILED. An error raised while resolving a field is masked as
INTERNAL_SERVER_ERROR with a request id that is also in the log, so the stack trace stays on our
side.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

from graphql import (
    ASTValidationRule,
    GraphQLError,
    GraphQLSyntaxError,
    NoSchemaIntrospectionCustomRule,
    ProvidedRequiredArgumentsRule,
    ValuesOfCorrectTypeRule,
)
from strawberry.extensions import SchemaExtension

from usagegraph.clients.errors import UpstreamError
from usagegraph.resolvers.errors import GraphError, SourceFailure
from usagegraph.schema.compat import MaybeNullValidationRule, is_token_limit
from usagegraph.schema.limits import INTROSPECTION_DISABLED, TOO_COMPLEX
from usagegraph.telemetry import current_request_id

__all__ = ["ErrorCodes", "coded_rule"]

log = logging.getLogger("usagegraph.errors")

BAD_USER_INPUT = "BAD_USER_INPUT"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"

# validation rules whose every error is about a value the caller wrote (a literal of the wrong
# type, a required argument left out), or about a limit, rather than the shape of the query
_RULE_CODES: dict[type[ASTValidationRule], str] = {
    ValuesOfCorrectTypeRule: BAD_USER_INPUT,
    ProvidedRequiredArgumentsRule: BAD_USER_INPUT,
    MaybeNullValidationRule: BAD_USER_INPUT,
    NoSchemaIntrospectionCustomRule: INTROSPECTION_DISABLED,
}


def _reporting(rule: type[ASTValidationRule], code: str) -> type[ASTValidationRule]:
    """`rule`, reporting its errors with `code` (an error that has a code keeps it)."""

    class Coded(rule):  # type: ignore[valid-type, misc]
        def report_error(self, error: GraphQLError) -> None:
            extensions = error.extensions or {}
            if "code" not in extensions:
                error.extensions = {**extensions, "code": code}
            super().report_error(error)

    Coded.__name__ = Coded.__qualname__ = f"Coded{rule.__name__}"
    return Coded


# built once: validation_rules() is asked for every new document
_CODED_RULES = {rule: _reporting(rule, code) for rule, code in _RULE_CODES.items()}


def coded_rule(rule: type[ASTValidationRule]) -> type[ASTValidationRule]:
    """`rule` reporting its errors with the `extensions.code` `_RULE_CODES` gives it; the rule
    itself when it has none (GRAPHQL_VALIDATION_FAILED)."""
    return _CODED_RULES.get(rule, rule)


def _code_for(error: GraphQLError) -> str | None:
    original = error.original_error
    if isinstance(original, GraphError):
        return None  # already carries its own extensions
    if error.path is not None:
        return "INTERNAL_SERVER_ERROR"  # raised while resolving: a bug, never shown as is
    if isinstance(error, GraphQLSyntaxError):
        return TOO_COMPLEX if is_token_limit(error) else PARSE_FAILED
    if original is not None:
        return BAD_USER_INPUT  # a variable's value graphql-core could not coerce
    return VALIDATION_FAILED


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
