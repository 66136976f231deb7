"""What an operation loaded is freed when it ends, not left for the cycle collector.

graphql-core's execution context holds the request context in reference cycles; anything the
context kept (loader caches full of vendor reports) would wait for a collection of the older
generations, which at scale M paused the next requests ~80 ms at a time.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from tests.fixtures.dashboards import DASHBOARD, warm
from tests.fixtures.graph import GraphQuery
from tests.fixtures.truth import last_full_month
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer

# what an operation loads: vendor rows, the loaders' results and the figures built on them (the
# request context's own small shell may stay in its cycle)
LOADED = (
    "usagegraph.clients.telzino.",
    "usagegraph.clients.teli.",
    "usagegraph.clients.talkdesk.",
    "usagegraph.resolvers.cache.",
    "usagegraph.resolvers.metrics.",
    "usagegraph.resolvers.usage.",
    "usagegraph.schema.usage.",
)


@pytest.fixture
def cycle_garbage() -> Iterator[Callable[[], list[object]]]:
    """With automatic collection off: a function returning what only the collector frees."""
    gc.collect()
    gc.disable()

    def collect() -> list[object]:
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        found = list(gc.garbage)
        gc.set_debug(0)
        gc.garbage.clear()
        return found

    try:
        yield collect
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def loaded_types(objects: list[object]) -> Counter[str]:
    names = (f"{type(o).__module__}.{type(o).__qualname__}" for o in objects)
    return Counter(name for name in names if name.startswith(LOADED))


async def test_a_finished_operation_leaves_nothing_it_loaded_to_the_cycle_collector(
    graph: GraphQuery,
    sandbox: SandboxServer,
    dataset: Dataset,
    cycle_garbage: Callable[[], list[object]],
) -> None:
    first, last = last_full_month(dataset)
    await warm(graph, sandbox)

    for _ in range(2):
        result = await graph(DASHBOARD, {"first": str(first), "last": str(last)})
        assert "errors" not in result
    # every vendor was asked: there was something to leave behind
    assert {r.vendor for r in sandbox.control.requests} == {"telzino", "teli", "talkdesk"}

    assert loaded_types(cycle_garbage()) == Counter()
