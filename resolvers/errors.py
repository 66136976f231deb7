"""GraphQL-facing errors: each carries the `extensions.code` a client branches on.

    GraphError
    ├── BadUserInput            BAD_USER_INPUT: the caller asked something invalid
    ├── NotFound                NOT_FOUND: no such entity (or not visible to the caller)
    └── SourceFailure           the upstream code (UPSTREAM_UNAVAILABLE, ...) + the source name
                                (+ the endpoint and JSON field of an UPSTREAM_CONTRACT)

`SourceFailure` wraps one or more `clients.errors.UpstreamError`s so that a field depending on
several sources names every one that failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from graphql import GraphQLError

from usagegraph.clients.errors import UpstreamContractError, UpstreamError

__all__ = ["BadUserInput", "GraphError", "NotFound", "SourceFailure"]


class GraphError(Exception):
    """Base of the errors we raise on purpose; their message and extensions reach the caller."""

    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code}


class BadUserInput(GraphError):
    """Invalid arguments: a reversed or too long range, a malformed month."""

    code = "BAD_USER_INPUT"


class NotFound(GraphError):
    """No entity with that id."""

    code = "NOT_FOUND"


class SourceFailure(GraphError):
    """The field needs data from sources that failed."""

    def __init__(self, failures: Sequence[UpstreamError]) -> None:
        self.failures = tuple(failures)
        first = self.failures[0]
        names = ", ".join(sorted({f.source for f in self.failures}))
        super().__init__(f"source {names} failed: {first}")

    @property
    def code(self) -> str:  # type: ignore[override]
        return self.failures[0].code

    @property
    def extensions(self) -> dict[str, Any]:
        extensions: dict[str, Any] = {
            "code": self.code,
            "source": self.failures[0].source,
        }
        sources = sorted({f.source for f in self.failures})
        if len(sources) > 1:  # several agents failing on one source still name one source
            extensions["sources"] = sources
        first = self.failures[0]
        if isinstance(first, UpstreamContractError):
            # which answer broke the contract, and where: what a vendor's support would ask
            extensions["endpoint"] = first.endpoint
            if first.field is not None:
                extensions["field"] = first.field
        return extensions


def to_graphql_error(error: GraphError) -> GraphQLError:
    return GraphQLError(str(error), extensions=error.extensions)
