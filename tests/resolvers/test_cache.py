"""The result cache on its own: the memory LRU, TTL classes, single flight, stale on failure.

A fake clock drives every expiry; loads are plain coroutines that count their calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from tests.fixtures.result_cache import PAST, T0, TODAY, Clock, Counted
from usagegraph.clients.errors import (
    UpstreamBadRequestError,
    UpstreamBudgetExceededError,
    UpstreamCircuitOpenError,
    UpstreamContractError,
    UpstreamError,
    UpstreamForbiddenError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnauthorizedError,
    UpstreamUnavailableError,
)
from usagegraph.resolvers.cache import (
    CachePolicy,
    EntryCodec,
    MemoryBackend,
    ResultCache,
    TtlClass,
    cache_key,
    serves_stale,
    ttl_class,
)
from usagegraph.resolvers.ranges import DayRange

LIVE = DayRange(date(2025, 10, 1), TODAY)
# these tests cache plain values under a real fetch name (the real types: test_cache_format.py)
PLAIN = EntryCodec({"fetch_minutes": str | dict[str, int]})


def unavailable() -> UpstreamUnavailableError:
    return UpstreamUnavailableError("answered 503", source="telzino", endpoint="GET /x", status=503)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> ResultCache:
    policy = CachePolicy(ttl_past=3600, ttl_live=60, ttl_discovery=300, stale=86400)
    return ResultCache(MemoryBackend(100, clock=clock), policy, clock=clock, codec=PLAIN)


def fetcher(
    cache: ResultCache, load: Callable[[], Awaitable[Any]], **kwargs: Any
) -> Callable[[], Awaitable[Any]]:
    kwargs.setdefault("ttl", TtlClass.PAST)

    async def run() -> Any:
        return await cache.fetch("telzino", "fetch_minutes", (PAST, None), load, **kwargs)

    return run


# -- the memory backend --------------------------------------------------------------------------


async def test_memory_backend_evicts_the_least_recently_used_beyond_its_bound(clock: Clock) -> None:
    backend = MemoryBackend(3, clock=clock)
    for key in "abc":
        await backend.set(key, key.encode(), 60)
    assert await backend.get("a") == b"a"  # now "b" is the least recently used
    await backend.set("d", b"d", 60)

    assert len(backend) == 3
    assert await backend.get("b") is None
    assert [await backend.get(k) for k in "acd"] == [b"a", b"c", b"d"]


async def test_memory_backend_never_grows_past_max_entries(clock: Clock) -> None:
    backend = MemoryBackend(50, clock=clock)
    for i in range(1000):
        await backend.set(f"k{i}", b"x", 60)
    assert len(backend) == 50
    assert await backend.get("k949") is None
    assert await backend.get("k950") == b"x"


async def test_memory_backend_drops_an_expired_entry_when_read(clock: Clock) -> None:
    backend = MemoryBackend(10, clock=clock)
    await backend.set("k", b"v", 30)
    clock.now += 29.9
    assert await backend.get("k") == b"v"
    clock.now += 0.1
    assert await backend.get("k") is None
    assert len(backend) == 0


async def test_memory_backend_ttl_zero_deletes(clock: Clock) -> None:
    backend = MemoryBackend(10, clock=clock)
    await backend.set("k", b"v", 30)
    await backend.set("k", b"w", 0)
    assert await backend.get("k") is None


def test_memory_backend_needs_a_positive_bound() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryBackend(0)


# -- keys and TTL classes ------------------------------------------------------------------------


def test_keys_name_connection_fetch_and_normalized_params() -> None:
    assert cache_key("telzino", "fetch_minutes", (PAST, ["o1", "o2"])) == (
        'fetch:3:telzino:fetch_minutes:["2025-09-01..2025-09-30",["o1","o2"]]'
    )
    # unfiltered (None) and filtered reports are different entries
    assert cache_key("telzino", "fetch_minutes", (PAST, None)) != cache_key(
        "telzino", "fetch_minutes", (PAST, ["o1"])
    )
    # the connection is the credential: same params, another connection, another entry
    assert cache_key("teli-a", "fetch_org_analytics", (PAST,)) != cache_key(
        "teli-b", "fetch_org_analytics", (PAST,)
    )


def test_long_params_are_hashed_into_a_short_key() -> None:
    ids = [f"org-{i:05d}" for i in range(500)]
    key = cache_key("talkdesk", "fetch_rows", (ids, ("2025-09",)))
    assert key.startswith("fetch:3:talkdesk:fetch_rows:sha256=")
    assert len(key) < 120
    assert key != cache_key("talkdesk", "fetch_rows", (ids[:-1], ("2025-09",)))


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        (DayRange(date(2025, 9, 1), date(2025, 10, 8)), TtlClass.PAST),  # ends yesterday
        (DayRange(date(2025, 9, 1), date(2025, 10, 9)), TtlClass.LIVE),  # includes today
        (DayRange(date(2025, 10, 9), date(2025, 10, 31)), TtlClass.LIVE),  # today and later
        (("2025-08", "2025-09"), TtlClass.PAST),  # whole months before this one
        (("2025-09", "2025-10"), TtlClass.LIVE),  # the current month is still moving
        (None, TtlClass.LIVE),  # all-time counters grow every day
    ],
)
def test_ttl_class_by_what_the_fetch_covers(span: Any, expected: TtlClass) -> None:
    assert ttl_class(span, TODAY) is expected


@pytest.mark.parametrize(
    ("error", "stale_ok"),
    [
        (UpstreamUnavailableError("x", source="s", endpoint="e", status=503), True),
        (UpstreamTimeoutError("x", source="s", endpoint="e"), True),
        (UpstreamCircuitOpenError("x", source="s", endpoint="e"), True),
        (UpstreamRateLimitedError("x", source="s", endpoint="e"), True),
        (UpstreamBudgetExceededError("x", source="s", endpoint="e"), False),
        (UpstreamUnauthorizedError("x", source="s", endpoint="e", status=401), False),
        (UpstreamForbiddenError("x", source="s", endpoint="e", status=403), False),
        (UpstreamBadRequestError("x", source="s", endpoint="e", status=400), False),
        (UpstreamContractError("x", source="s", endpoint="e"), False),
    ],
)
def test_only_failures_of_the_source_serve_stale(error: UpstreamError, stale_ok: bool) -> None:
    assert serves_stale(error) is stale_ok


# -- fresh, expired, stale -------------------------------------------------------------------------


async def test_a_fresh_entry_answers_without_a_call(cache: ResultCache, clock: Clock) -> None:
    load = Counted({"o1": 1})
    first = await fetcher(cache, load)()
    clock.now += 3599
    second = await fetcher(cache, load)()

    assert load.calls == 1
    assert second.value == {"o1": 1}
    assert second.fetched_at == first.fetched_at == datetime.fromtimestamp(T0, UTC)
    assert second.stale is False


@pytest.mark.parametrize(
    ("ttl", "fresh_for"),
    [(TtlClass.PAST, 3600), (TtlClass.LIVE, 60), (TtlClass.DISCOVERY, 300)],
)
async def test_each_ttl_class_expires_after_its_own_ttl(
    cache: ResultCache, clock: Clock, ttl: TtlClass, fresh_for: float
) -> None:
    load = Counted()
    run = fetcher(cache, load, ttl=ttl)
    await run()
    clock.now = T0 + fresh_for - 1
    await run()
    assert load.calls == 1
    clock.now = T0 + fresh_for
    refetched = await run()
    assert load.calls == 2
    assert refetched.fetched_at == datetime.fromtimestamp(T0 + fresh_for, UTC)


async def test_a_failed_source_is_answered_from_the_stale_entry_with_its_fetch_time(
    cache: ResultCache, clock: Clock
) -> None:
    load = Counted({"o1": 42})
    await fetcher(cache, load)()
    clock.now += 3600 + 600  # expired ten minutes ago
    load.error = unavailable()

    served = await fetcher(cache, load)()

    assert load.calls == 2  # the source was asked first
    assert served.value == {"o1": 42}
    assert served.stale is True
    assert served.fetched_at == datetime.fromtimestamp(T0, UTC)
    assert served.error is load.error


async def test_no_stale_entry_beyond_the_stale_window(cache: ResultCache, clock: Clock) -> None:
    load = Counted()
    await fetcher(cache, load)()
    clock.now += 3600 + 86400  # expired exactly stale_seconds ago
    load.error = unavailable()
    with pytest.raises(UpstreamUnavailableError):
        await fetcher(cache, load)()


async def test_stale_is_not_served_where_the_caller_could_not_show_it(
    cache: ResultCache, clock: Clock
) -> None:
    load = Counted()
    await fetcher(cache, load, serve_stale=False)()
    clock.now += 3601
    load.error = unavailable()
    with pytest.raises(UpstreamUnavailableError):
        await fetcher(cache, load, serve_stale=False)()


async def test_our_own_errors_never_serve_stale(cache: ResultCache, clock: Clock) -> None:
    load = Counted()
    await fetcher(cache, load)()
    clock.now += 3601
    load.error = UpstreamUnauthorizedError("answered 401", source="s", endpoint="e", status=401)
    with pytest.raises(UpstreamUnauthorizedError):
        await fetcher(cache, load)()


async def test_a_refresh_skips_the_fresh_entry_but_may_still_fall_back_to_it(
    cache: ResultCache, clock: Clock
) -> None:
    load = Counted("old")
    await fetcher(cache, load)()
    load.value = "new"
    refreshed = await fetcher(cache, load, refresh=True)()
    assert (load.calls, refreshed.value, refreshed.stale) == (2, "new", False)
    assert (await fetcher(cache, load)()).value == "new"  # and it was stored

    load.error = unavailable()
    fallback = await fetcher(cache, load, refresh=True)()
    assert (fallback.value, fallback.stale) == ("new", True)


async def test_an_unreadable_entry_is_a_miss(cache: ResultCache) -> None:
    key = cache_key("telzino", "fetch_minutes", (PAST, None))
    await cache.backend.set(key, b"\x93not an entry", 60)
    load = Counted("fresh")
    assert (await fetcher(cache, load)()).value == "fresh"
    assert load.calls == 1


async def test_entries_are_stored_with_their_fetch_time_and_deadline(
    cache: ResultCache, clock: Clock
) -> None:
    await fetcher(cache, Counted({"o1": 1}))()
    raw = await cache.backend.get(cache_key("telzino", "fetch_minutes", (PAST, None)))
    assert raw is not None
    entry = PLAIN.decode("fetch_minutes", raw)
    assert (entry.fetched_at, entry.fresh_until, entry.value) == (T0, T0 + 3600, {"o1": 1})
    # the backend keeps it for ttl + stale, so a failure a day later can still be answered
    clock.now += 3600 + 86400 - 1
    assert await cache.backend.get(cache_key("telzino", "fetch_minutes", (PAST, None)))


# -- single flight -----------------------------------------------------------------------------


async def test_concurrent_fetches_of_one_key_share_one_call(cache: ResultCache) -> None:
    load = Counted("shared")
    load.gate = asyncio.Event()
    waiting = [asyncio.ensure_future(fetcher(cache, load)()) for _ in range(32)]
    await asyncio.sleep(0)
    load.gate.set()
    results = await asyncio.gather(*waiting)
    assert load.calls == 1
    assert {r.value for r in results} == {"shared"}


async def test_a_cancelled_waiter_does_not_cancel_the_shared_call(cache: ResultCache) -> None:
    load = Counted("shared")
    load.gate = asyncio.Event()
    first = asyncio.ensure_future(fetcher(cache, load)())
    second = asyncio.ensure_future(fetcher(cache, load)())
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    load.gate.set()
    assert (await second).value == "shared"
    assert first.cancelled()
    assert load.calls == 1


async def test_a_shared_failure_fails_every_waiter_once(cache: ResultCache) -> None:
    load = Counted()
    load.gate = asyncio.Event()
    load.error = unavailable()
    waiting = [asyncio.ensure_future(fetcher(cache, load)()) for _ in range(5)]
    await asyncio.sleep(0)
    load.gate.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(o, UpstreamUnavailableError) for o in outcomes)
    assert load.calls == 1


async def test_another_operations_exhausted_budget_makes_the_waiter_call_itself(
    cache: ResultCache,
) -> None:
    owner = Counted()
    owner.gate = asyncio.Event()
    owner.error = UpstreamBudgetExceededError("was not called", source="telzino", endpoint="e")
    mine = Counted("mine")
    first = asyncio.ensure_future(fetcher(cache, owner)())
    second = asyncio.ensure_future(fetcher(cache, mine)())
    await asyncio.sleep(0)
    owner.gate.set()
    with pytest.raises(UpstreamBudgetExceededError):
        await first
    assert (await second).value == "mine"
    assert (owner.calls, mine.calls) == (1, 1)
