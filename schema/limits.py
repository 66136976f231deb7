"""Query limits: depth, aliases, cost, tokens and introspection, and the errors refusing them.

`SchemaLimits` holds the `[limits]` and `[server]` settings a schema enforces; schema/validation.py
checks them on every document (from the figures of schema/analysis.py) before graphql-core's
rules run, and `limit_error` words the refusal. Each refusal carries its `extensions.code`:
QUERY_TOO_COMPLEX for depth, aliases and cost, INTROSPECTION_DISABLED for Federation's
`_service` (which prints the whole schema) when introspection is off. graphql-core's own
refusals of `__schema` / `__type` and of too many tokens get the same codes in
schema/errors.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLError, Node

from usagegraph.schema.analysis import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    SATURATION,
    DocumentAnalysis,
    OperationFigures,
)

__all__ = [
    "DEFAULT_MAX_COST",
    "INTROSPECTION_DISABLED",
    "TOO_COMPLEX",
    "SchemaLimits",
    "introspection_refusal",
    "limit_error",
]

# Well above every example operation and benchmark query (CostByCurrency, every organization's
# costs by source, estimates about 100,000 against schema/analysis.py's catalog estimates), and
# above a whole-estate drill-down (every organization's, agent's and user's usage: ~500,000).
DEFAULT_MAX_COST = 1_000_000
TOO_COMPLEX = "QUERY_TOO_COMPLEX"
INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"


@dataclass(frozen=True)
class SchemaLimits:
    """What one GraphQL document may ask (the `[limits]` and `[server]` settings)."""

    max_depth: int = 12
    max_aliases: int = 30
    max_cost: int = DEFAULT_MAX_COST
    max_tokens: int = 2000
    introspection: bool = True
    # a connection's page, as the cost counts it ([graph] default_page_size, max_page_size)
    default_page_size: int = DEFAULT_PAGE_SIZE
    max_page_size: int = MAX_PAGE_SIZE


def limit_error(analysis: DocumentAnalysis, limits: SchemaLimits) -> GraphQLError | None:
    """The one error refusing a document over a limit (depth, then aliases, then cost), or
    None."""
    for figures in analysis.operations:
        if figures.depth > limits.max_depth:
            message = (
                f"'{figures.name}' exceeds maximum operation depth of {limits.max_depth} "
                f"(its depth is {figures.depth})"
            )
            return _too_complex(message, figures.node)
    if analysis.aliases > limits.max_aliases:
        return _too_complex(
            f"{_amount(analysis.aliases)} aliases found. Allowed: {limits.max_aliases}", None
        )
    for figures in analysis.operations:
        if figures.cost > limits.max_cost:
            return _too_complex(_cost_message(figures, limits), figures.node)
    return None


def _cost_message(figures: OperationFigures, limits: SchemaLimits) -> str:
    return (
        f"'{figures.name}' exceeds maximum operation cost of {limits.max_cost} "
        f"(its estimated cost is {_amount(figures.cost)})"
    )


def _amount(value: int) -> str:
    return f"more than {SATURATION}" if value >= SATURATION else str(value)


def _too_complex(message: str, node: Node | None) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": TOO_COMPLEX})


def introspection_refusal(field: str, node: Node | None = None) -> GraphQLError:
    """The refusal of an introspection field (graphql-core's wording, for `_service` too)."""
    return GraphQLError(
        "GraphQL introspection has been disabled, but the requested query contained the "
        f"field '{field}'.",
        node,
        extensions={"code": INTROSPECTION_DISABLED},
    )
