"""What an answer leaves out, said in the answer: lists short of a failed source, stale stand-ins.

A source whose discovery failed with no earlier discovery to stand in is known only through the
directory's links: whatever it alone lists (its unlinked resellers, organizations, agents) is
missing. A list or lookup field that could have shown such entities still answers with what the
other sources know, and `note_left_out` adds an error at that field's path naming the source
(`extensions { code, source }`, the failure's `UPSTREAM_*` code): a shorter list is never
mistaken for a complete one. `LeftOut` merges those errors into the response and, when an older
discovery stands in for a failed one, says so in `extensions.staleDiscovery` (source, when that
discovery was made, and why the new one failed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from usagegraph.resolvers.context import GraphContext
from usagegraph.resolvers.errors import SourceFailure

__all__ = ["LeftOut", "SourceLeftOut", "note_left_out", "sources_of"]

Info = strawberry.Info[GraphContext]


class SourceLeftOut(SourceFailure):
    """Sources whose entities a list or lookup could not include: their discovery failed."""

    def __init__(self, failures: Iterable[Any]) -> None:
        super().__init__(list(failures))
        names = ", ".join(sorted({f.source for f in self.failures}))
        self.args = (
            f"source {names} could not be listed, so this answer leaves out what only it "
            f"knows: {self.failures[0]}",
        )


def sources_of(info: Info, any_id: str) -> list[str] | None:
    """The sources an id that was not found could belong to: the one it names
    (`<source>:<native id>` or `<source>`), else (a directory id) any of them."""
    source = any_id.partition(":")[0]
    return [source] if source in info.context.service.connections else None


def note_left_out(info: Info, sources: Iterable[str] | None = None) -> None:
    """Say at this field that it leaves out what the failed `sources` (default: every failed
    source the caller may see) alone know. Nothing is said when none of them failed, and the
    same thing is said once per field (`_entities` looks up many ids at one path)."""
    failed = info.context.catalog.failures
    if not failed:  # the usual case: nothing to say, and nothing to build
        return
    names = sorted(failed if sources is None else {s for s in sources if s in failed})
    if not names:
        return
    path = info.path.as_list()
    said = (tuple(path), tuple(names))
    if said in info.context.left_out_said:
        return
    info.context.left_out_said.add(said)
    error = SourceLeftOut(failed[name] for name in names)
    info.context.left_out.append(
        GraphQLError(
            str(error),
            path=path,
            original_error=error,
            extensions=error.extensions,
        )
    )


class LeftOut(SchemaExtension):
    """Adds the fields' `note_left_out` errors to the response, and the stale discoveries
    standing in to its extensions. Listed after ErrorCodes, so these errors are in place before
    error codes are shaped and counted."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        result = self.execution_context.result
        if not isinstance(context, GraphContext) or not context.left_out or result is None:
            return
        result.errors = [*(result.errors or ()), *context.left_out]

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        catalog = context.loaded_catalog if isinstance(context, GraphContext) else None
        if catalog is None or not catalog.stale:
            return {}
        return {
            "staleDiscovery": [
                {
                    "source": source,
                    "asOf": stale.as_of.isoformat(),
                    "code": stale.error.code,
                    "message": str(stale.error),
                }
                for source, stale in sorted(catalog.stale.items())
            ]
        }
