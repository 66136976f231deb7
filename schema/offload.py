"""CPU work on a document, off the event loop when the document is not small.

graphql-core's parse and validation grow with a document's tokens and fields, so a document of
the 2,000 tokens `[limits] max_tokens` allows could hold the event loop for tens of
milliseconds (measured: see docs/measurements.md#parsing-and-validating-off-the-event-loop), and
every other request (and /healthz) would wait. `off_loop(text, work, ...)` runs `work` right
here for a short text and on a small worker pool otherwise: the interpreter then switches back
to the event loop every few milliseconds while the worker runs. At most `WORKERS` documents are
worked on at once; the others wait their turn without holding anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

__all__ = ["INLINE_CHARS", "WORKERS", "off_loop"]

# texts up to this long (about 350 tokens: a few milliseconds of work) stay on the loop
INLINE_CHARS = 1024
WORKERS = 2

_T = TypeVar("_T")
_pool: ThreadPoolExecutor | None = None


async def off_loop(text: str | None, work: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """`work(*args, **kwargs)`, on a worker thread unless `text` is short."""
    if text is not None and len(text) <= INLINE_CHARS:
        return work(*args, **kwargs)
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="usagegraph-document")
    return await asyncio.get_running_loop().run_in_executor(_pool, partial(work, *args, **kwargs))
