"""Whether the current request's operation reached execution.

Over HTTP the status of an answer with errors and no data depends on when it failed (the
GraphQL-over-HTTP spec, under `application/graphql-response+json`): a request error (parse,
validation, no such operation, variable coercion) is a 400 without `data`; once execution has
begun (schema/plain.py marks it, after variable coercion), `data: null` is a 200. graphql-core
answers both with `data: None`, so the router asks here (usagegraph/protocol.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["mark_executing", "watching_execution"]

_executing: ContextVar[bool] = ContextVar("usagegraph_operation_executing", default=False)


def mark_executing() -> None:
    """Called by the executor as execution begins (same task as the request's handler)."""
    _executing.set(True)


@contextmanager
def watching_execution() -> Iterator[Callable[[], bool]]:
    """Within the block, the callable says whether an operation began executing."""
    token = _executing.set(False)
    try:
        yield _executing.get
    finally:
        _executing.reset(token)
