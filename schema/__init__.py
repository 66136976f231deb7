"""The GraphQL schema: Reseller → Organization → Agent / User, each with usage over a range.

Builds and exports `schema` (default limits; `build_schema(limits)` makes one per app). It is an
Apollo Federation v2 subgraph (see schema/federation.py): `schema.as_str()` is the client-facing
SDL `usagegraph export-schema` prints into `schema.graphql`, `schema.subgraph_sdl()` the SDL
with Federation's parts (`usagegraph export-schema --federation`).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.printer import print_schema
from strawberry.types import ExecutionContext

from usagegraph.clients.errors import UpstreamError
from usagegraph.resolvers.errors import BadUserInput, GraphError
from usagegraph.schema.ahead import resolve_usage_ahead
from usagegraph.schema.budget import UpstreamBudget
from usagegraph.schema.compat import FederationAny, graphql_schema
from usagegraph.schema.debug import OperationTelemetry, operation_tracing
from usagegraph.schema.direct import call_plain_resolvers_directly
from usagegraph.schema.documents import document_cache
from usagegraph.schema.entities import Agent, Organization, Reseller, User
from usagegraph.schema.errors import ErrorCodes
from usagegraph.schema.federation import client_sdl, describe, entity_reference
from usagegraph.schema.inputs import DATE_SCALAR
from usagegraph.schema.left_out import LeftOut
from usagegraph.schema.limits import SchemaLimits
from usagegraph.schema.naming import schema_config
from usagegraph.schema.operation_name import OperationNameRequired
from usagegraph.schema.plain import PlainExecutor
from usagegraph.schema.query import Query
from usagegraph.schema.release import ReleaseLoaded
from usagegraph.schema.validation import quiet_executor, validation_extensions

__all__ = ["Query", "SchemaLimits", "UsageGraphSchema", "build_schema", "schema"]

log = logging.getLogger("usagegraph.graphql")

FEDERATION_VERSION = "2.5"
OPERATION_CACHE_SIZE = 256  # distinct operations whose validation is kept
# the Federation entities (`@key(fields: "id")`), by GraphQL type name
ENTITIES: dict[str, Any] = {kind.__name__: kind for kind in (Agent, Organization, Reseller, User)}


class UsageGraphSchema(strawberry.federation.Schema):
    """A Federation v2 subgraph schema. Logs expected errors as one line each; unexpected ones
    are logged (with their traceback and request id) by `ErrorCodes`, and the caller's own
    mistakes only at debug level."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        built = graphql_schema(self)
        describe(built)  # Federation's own types explain themselves too
        self.direct_fields = call_plain_resolvers_directly(built, self.config)
        self.ahead_fields = resolve_usage_ahead(self)
        self._client_sdl = client_sdl(built)

    def as_str(self) -> str:
        """The client-facing SDL (`schema.graphql`): no Federation fields, types or directives."""
        return self._client_sdl

    def subgraph_sdl(self) -> str:
        """The subgraph SDL (`@link`, `@key`, `_entities`, ...): what `_service { sdl }` answers."""
        return print_schema(self)

    # Async where Strawberry's is sync: Strawberry only hands this method to
    # `strawberry.field(resolver=...)` (its one use), which awaits an async resolver.
    async def entities_resolver(  # type: ignore[override]
        self, info: strawberry.Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """`_entities`: a root resolver like any other, so it loads the (caller's scoped) catalog
        once before the entities' `resolve_reference`, which then never waits: their loaders
        batch exactly as a list query's do. A malformed representation is a BAD_USER_INPUT at
        its index (Strawberry's own resolver failed with an internal error on them)."""
        await info.context.load_catalog()
        results: list[Any] = []
        for index, representation in enumerate(representations):
            try:
                typename, key = entity_reference(index, representation, ENTITIES)
            except BadUserInput as error:
                results.append(error)  # this entity is null, with the error at its path
                continue
            results.append(ENTITIES[typename].resolve_reference(info, strawberry.ID(key)))
        return results

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            original = error.original_error
            if error.path is None and isinstance(original, GraphError):
                # an argument refused before execution (schema/arguments.py): the caller's
                log.debug("rejected operation: %s", error.message)
            elif isinstance(original, GraphError | UpstreamError):
                path = ".".join(map(str, error.path or ()))
                log.warning("%s at %s: %s", original.code, path, original)
            elif error.path is None:
                log.debug("rejected operation: %s", error.message)


def build_schema(limits: SchemaLimits | None = None) -> UsageGraphSchema:
    """The schema with `limits` enforced (the defaults when None); each app builds its own from
    its settings, since limits differ per deployment. The SDL never depends on them."""
    limits = limits or SchemaLimits()
    # dashboards send the same few operations again and again: parse each text once, and
    # check each document once (schema/validation.py: limits, then graphql-core's rules)
    checking = validation_extensions(limits, OPERATION_CACHE_SIZE)
    # with introspection off, variable errors do not suggest names either
    executor = PlainExecutor if limits.introspection else quiet_executor(PlainExecutor)
    return UsageGraphSchema(
        query=Query,
        scalar_overrides={date: DATE_SCALAR},
        config=schema_config(),  # strict YYYY-MM-DD (see schema/inputs.py)
        # only @key is used (Federation 2.0); 2.5 links a version every current router and
        # composition library knows (Strawberry's default, 2.11, is too new for some)
        federation_version=FEDERATION_VERSION,
        execution_context_class=executor,
        # ErrorCodes first: its after-operation code runs last, so it shapes the limits' errors;
        # only OperationTelemetry (metrics, log line, debug) wraps it, to see the final codes
        extensions=[
            ReleaseLoaded,
            OperationTelemetry,
            operation_tracing,
            ErrorCodes,
            LeftOut,  # after ErrorCodes: its errors are in place before codes are shaped
            UpstreamBudget,
            OperationNameRequired,  # several operations need an operationName (the spec)
            document_cache(OPERATION_CACHE_SIZE),
            *checking,
        ],
    )


schema = build_schema()
