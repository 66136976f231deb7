"""Query limits: depth, aliases, tokens and introspection, as Strawberry extensions.

`limit_extensions` gives extension factories (not instances: Strawberry builds a fresh one per
operation) for `build_schema`. `limit_code` names the `extensions.code` of an error one of them
raised, for `schema.errors.ErrorCodes`: QUERY_TOO_COMPLEX for depth, aliases and tokens,
INTROSPECTION_DISABLED for `__schema` / `__type` when introspection is off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

__all__ = ["SchemaLimits", "limit_code", "limit_extensions"]


@dataclass(frozen=True)
class SchemaLimits:
    """What one GraphQL document may ask (the `[limits]` and `[server]` settings)."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    introspection: bool = True


def limit_extensions(limits: SchemaLimits) -> list[Callable[[], SchemaExtension]]:
    """Factories of the extensions enforcing `limits`.

    The depth and alias limiters build a new rule class per instance; they are built once here,
    so every operation validates with the same rule classes and the validation cache (keyed by
    document and rules) can answer a repeated operation."""
    rules: list[type[ASTValidationRule]] = [
        *QueryDepthLimiter(max_depth=limits.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
    ]
    if not limits.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return [
        partial(MaxTokensLimiter, max_token_count=limits.max_tokens),
        partial(AddValidationRules, rules),
    ]


# the messages Strawberry's and graphql-core's limiters raise
_TOO_COMPLEX = (
    "exceeds maximum operation depth of",  # QueryDepthLimiter
    "aliases found. Allowed:",  # MaxAliasesLimiter
    "Syntax Error: Document contains more than",  # MaxTokensLimiter (graphql-core's parser)
)
_INTROSPECTION = "GraphQL introspection has been disabled"


def limit_code(message: str) -> str | None:
    """The code of an operation-level error raised by one of the limits, else None."""
    if any(marker in message for marker in _TOO_COMPLEX):
        return "QUERY_TOO_COMPLEX"
    if message.startswith(_INTROSPECTION):
        return "INTROSPECTION_DISABLED"
    return None
