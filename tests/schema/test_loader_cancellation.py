"""A cancelled resolver must not cancel the loader result other resolvers wait on.

graphql-core cancels the siblings of a non-null field that failed; with a bare shared DataLoader
future, that cancellation reached every other waiter on the same key (anywhere in the query) and
the whole request died with CancelledError (found by tests/test_no_secrets.py's fault suite).
"""

from __future__ import annotations

import asyncio

from usagegraph.resolvers.loaders import Loaders
from usagegraph.resolvers.service import GraphService


async def test_a_cancelled_waiter_leaves_the_shared_result_to_the_others() -> None:
    release = asyncio.Event()
    calls: list[list[str]] = []

    async def batch(keys: list[str]) -> list[str]:
        calls.append(list(keys))
        await release.wait()
        return [key.upper() for key in keys]

    loader = Loaders(GraphService({}), catalog=None)._loader(batch)  # type: ignore[arg-type]
    doomed = asyncio.ensure_future(loader.load("a"))
    survivor = asyncio.ensure_future(loader.load("a"))
    await asyncio.sleep(0)  # the batch starts
    doomed.cancel()
    await asyncio.sleep(0)
    release.set()
    assert await survivor == "A"
    assert doomed.cancelled()
    assert await loader.load("a") == "A"  # the cached result is intact, not cancelled
    assert calls == [["a"]]
