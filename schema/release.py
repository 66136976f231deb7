"""Frees what an operation loaded as soon as its result is complete (see `GraphContext.release`).

Listed first among the schema's extensions, so its after-operation code runs last: every other
extension (telemetry, error codes, the debug listing) has read the context by then.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from usagegraph.resolvers.context import GraphContext

__all__ = ["ReleaseLoaded"]


class ReleaseLoaded(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        try:
            yield
        finally:
            context = self.execution_context.context
            if isinstance(context, GraphContext):
                context.release()
