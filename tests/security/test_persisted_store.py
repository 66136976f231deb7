"""Finding 3: persisted queries have a store of their own, bounded in bytes, per caller.

Before: APQ entries went into the result cache's backend and its LRU (bounded by count only).
One key registering 1,000 queries of 60 KB grew the process from 91 to 219 MB and pushed another
tenant's cached dashboard out (its repeat went from 0 upstream calls to 3); in Redis they lived
24 h, unbounded. Now a caller's registrations only ever evict its own (in memory, the biggest
owner gives way when the whole store is full), never the result cache's entries, and in Redis
each key has a quota and every entry a TTL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from tests.fixtures.auth import auth_settings, bearer, started
from tests.fixtures.graph import sandbox_settings
from tests.fixtures.truth import last_full_month
from usagegraph.persisted import sha256_hex
from usagegraph.persisted.store import ENTRY_OVERHEAD, MemoryQueryStore, charge
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer
from usagegraph.settings import Settings

DASHBOARD = """
query Dashboard($first: Date!, $last: Date!) {
  resellers {
    id
    usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } costs { amount currency } }
    organizations { id usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } }
  }
}
"""
KIB = 1024


def apq(query: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}


def big_query(index: int, size: int = 60 * KIB) -> str:
    """A valid operation of about `size` bytes (a comment pads it: no token, no depth)."""
    head = f"# attacker query {index}\n"
    return head + "#" + "x" * (size - len(head) - 40) + "\n{ __typename }"


def month(dataset: Dataset) -> dict[str, str]:
    first, last = last_full_month(dataset)
    return {"first": str(first), "last": str(last)}


@asynccontextmanager
async def client(app: FastAPI, address: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://usagegraph") as http:
        yield http


async def register(http: httpx.AsyncClient, query: str, caller: str | None = None) -> None:
    headers = bearer(caller) if caller else {}
    response = await http.post(
        "/graphql", json={"query": query, "extensions": apq(query)}, headers=headers
    )
    assert response.status_code == 200, response.text


def auth(sandbox: SandboxServer, directory: Path, **persisted: Any) -> Settings:
    return auth_settings(
        sandbox,
        directory,
        limits={"requests_per_second": 0},
        cache={"max_entries": 50},  # small: the old shared LRU lost the dashboard at once
        persisted_queries=persisted,
    )


async def test_one_key_flooding_the_store_evicts_neither_another_keys_queries_nor_the_cache(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    settings = auth(
        sandbox, directory_file, memory_max_bytes=1024 * KIB, max_bytes_per_key=256 * KIB
    )
    variables = month(dataset)
    async with started(settings) as app, client(app) as http:
        # the victim's dashboard: registered, run, now cached
        first = await http.post(
            "/graphql",
            json={"query": DASHBOARD, "variables": variables, "extensions": apq(DASHBOARD)},
            headers=bearer("northwind"),
        )
        assert first.json()["data"]["resellers"]
        cached_entries = len(app.state.cache_backend)
        # the attacker registers 40 queries of 60 KB: 2.4 MB, over both bounds
        for index in range(40):
            await register(http, big_query(index), "eastgate")
        sandbox.control.reset()
        again = await http.post(
            "/graphql",
            json={"variables": variables, "extensions": apq(DASHBOARD)},  # the hash alone
            headers=bearer("northwind"),
        )
        store: MemoryQueryStore = app.state.persisted_store
        attacker, total = store.owner_size("key:eastgate"), store.size
        result_cache_entries = len(app.state.cache_backend)

    assert again.status_code == 200
    assert again.json() == first.json()  # still registered, and still cached:
    assert sandbox.control.count() == 0  # the repeat cost no upstream call
    assert result_cache_entries == cached_entries  # no persisted query in the result cache
    assert attacker <= 256 * KIB  # the attacker kept at most its own share
    assert attacker >= 4 * charge(big_query(0))  # (and did keep its latest ones)
    assert total <= 1024 * KIB


async def test_without_auth_the_share_is_per_client_address(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = sandbox_settings(
        sandbox,
        directory_file,
        limits={"requests_per_second": 0},
        persisted_queries={"max_bytes_per_key": 128 * KIB, "memory_max_bytes": 1024 * KIB},
    )
    mine = "query Mine { resellers { id } }"
    async with started(settings) as app, client(app, "10.0.0.1") as victim:
        await register(victim, mine)
        async with client(app, "10.0.0.2") as attacker:
            for index in range(10):
                await register(attacker, big_query(index))
        store: MemoryQueryStore = app.state.persisted_store
        found = await victim.post("/graphql", json={"extensions": apq(mine)})

        assert store.owner_size("ip:10.0.0.2") <= 128 * KIB
        assert store.owner_size("ip:10.0.0.1") == charge(mine)
    assert found.json()["data"]["resellers"]


async def test_when_the_whole_store_is_full_the_biggest_owner_gives_way() -> None:
    size = charge("q" * 744)  # 1 KiB each
    store = MemoryQueryStore(
        max_bytes=8 * size, max_bytes_per_owner=4 * size, max_queries_per_owner=100, ttl=60
    )
    await store.set("victim", "v" * 744, owner="small")
    # three callers at their full share each: twelve entries for a store of eight
    for owner in ("a", "b", "c"):
        for index in range(4):
            assert await store.set(f"{owner}{index}", "q" * 744, owner=owner)

    assert await store.get("victim") == "v" * 744
    assert store.size <= 8 * size
    assert store.owner_size("small") == size
    assert max(store.owner_size(owner) for owner in "abc") <= 4 * size


async def test_each_key_keeps_at_most_its_count_of_queries() -> None:
    store = MemoryQueryStore(
        max_bytes=1024 * KIB, max_bytes_per_owner=1024 * KIB, max_queries_per_owner=3, ttl=60
    )
    for index in range(5):
        await store.set(str(index), f"{{ q{index} }}", owner="k")

    assert [await store.get(str(index)) for index in range(5)] == [
        None,
        None,
        "{ q2 }",
        "{ q3 }",
        "{ q4 }",
    ]


async def test_a_query_known_to_another_key_is_not_charged_again() -> None:
    store = MemoryQueryStore(
        max_bytes=1024 * KIB, max_bytes_per_owner=1024 * KIB, max_queries_per_owner=3, ttl=60
    )
    await store.set("h", "{ shared }", owner="first")
    await store.set("h", "{ shared }", owner="second")

    assert store.owner_size("first") == len("{ shared }") + ENTRY_OVERHEAD
    assert store.owner_size("second") == 0


# -- Redis: a quota per key and a TTL ----------------------------------------------------------


async def pq_keys(url: str) -> dict[str, int]:
    """Every persisted-query entry in Redis and its remaining time to live (ms)."""
    raw = Redis.from_url(url)
    try:
        names = await raw.keys("usagegraph:v1:pq:q:*")
        return {name.decode(): await raw.pttl(name) for name in names}
    finally:
        await raw.aclose()


async def test_in_redis_each_key_has_a_quota_and_every_entry_a_ttl(
    sandbox: SandboxServer,
    directory_file: Path,
    dataset: Dataset,
    redis_url: str,
) -> None:
    settings = auth_settings(
        sandbox,
        directory_file,
        limits={"requests_per_second": 0},
        cache={"backend": "redis", "url": redis_url},
        persisted_queries={
            "max_queries_per_key": 5,
            "max_bytes_per_key": 150 * KIB,
            "ttl_seconds": 600,
        },
    )
    variables = month(dataset)
    async with started(settings) as app, client(app) as http:
        first = await http.post(
            "/graphql",
            json={"query": DASHBOARD, "variables": variables, "extensions": apq(DASHBOARD)},
            headers=bearer("northwind"),
        )
        small = [f"query Small{index} {{ __typename }}" for index in range(8)]
        for query in small:  # over the count quota
            await register(http, query, "eastgate")
        after_count = await pq_keys(redis_url)
        for index in range(4):  # 4 x 60 KB: over the byte quota
            await register(http, big_query(index), "eastgate")
        after_bytes = await pq_keys(redis_url)
        sandbox.control.reset()
        again = await http.post(
            "/graphql",
            json={"variables": variables, "extensions": apq(DASHBOARD)},
            headers=bearer("northwind"),
        )

    victim = f"usagegraph:v1:pq:q:{sha256_hex(DASHBOARD)}"
    # the victim's entry, and the attacker's 5 latest small ones
    assert set(after_count) == {victim} | {
        f"usagegraph:v1:pq:q:{sha256_hex(query)}" for query in small[3:]
    }
    # 150 KB holds two 60 KB queries: the oldest registrations went first
    attackers = set(after_bytes) - {victim}
    assert attackers == {f"usagegraph:v1:pq:q:{sha256_hex(big_query(i))}" for i in (2, 3)}
    assert all(0 < ttl <= 600_000 for ttl in after_bytes.values())
    assert again.json() == first.json()
    assert sandbox.control.count() == 0  # the result cache kept the dashboard too


async def test_in_redis_a_registered_query_expires_with_its_ttl(
    sandbox: SandboxServer,
    directory_file: Path,
    redis_url: str,
) -> None:
    settings = sandbox_settings(
        sandbox,
        directory_file,
        cache={"backend": "redis", "url": redis_url},
        persisted_queries={"ttl_seconds": 0.3},
    )
    query = "query Soon { __typename }"
    async with started(settings) as app, client(app) as http:
        await register(http, query)
        known = await http.post("/graphql", json={"extensions": apq(query)})
        await asyncio.sleep(0.4)
        gone = await http.post("/graphql", json={"extensions": apq(query)})
        raw = Redis.from_url(redis_url)
        try:
            owners = await raw.keys("usagegraph:v1:pq:owner:*")
        finally:
            await raw.aclose()

    assert known.json() == {"data": {"__typename": "Query"}}
    assert gone.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert owners == []  # the owner's bookkeeping expired with it


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_the_store_never_writes_to_the_result_cache(
    sandbox: SandboxServer, directory_file: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    cache: dict[str, Any] = {}
    if backend == "redis":
        cache = {"backend": "redis", "url": request.getfixturevalue("redis_url")}
    settings = sandbox_settings(sandbox, directory_file, cache=cache)
    query = "query Kept { __typename }"
    async with started(settings) as app, client(app) as http:
        await register(http, query)
        in_backend = await app.state.cache_backend.get(f"pq:{sha256_hex(query)}")
        in_store = await app.state.persisted_store.get(sha256_hex(query))

    assert in_backend is None
    assert in_store == query
