"""Warm reads skip repeated work and answer exactly what the work would: decoded cache entries
kept per bytes (resolvers/cache/decoded.py), values derived once per entry (`Fetched.derive`),
totals of the same parts (`sum_metrics`) and range arithmetic computed once per range."""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fixtures.result_cache import PAST, Clock, Counted
from usagegraph.resolvers.cache import CachePolicy, EntryCodec, MemoryBackend, ResultCache, TtlClass
from usagegraph.resolvers.cache.codec import Entry
from usagegraph.resolvers.cache.decoded import DecodedEntries
from usagegraph.resolvers.metrics import (
    COUNTER_FIELDS,
    Charge,
    Quantity,
    UsageMetrics,
    WalletAmount,
    add_costs,
    add_quantities,
    add_wallet,
    sum_metrics,
)
from usagegraph.resolvers.ranges import DayRange

PLAIN = EntryCodec({"fetch_minutes": dict[str, int]})


class CountingCodec(EntryCodec):
    def __init__(self) -> None:
        super().__init__({"fetch_minutes": dict[str, int]})
        self.decoded = 0

    def decode(self, name: str, raw: bytes) -> Entry[Any]:
        self.decoded += 1
        return super().decode(name, raw)


class CopyingBackend(MemoryBackend):
    """Hands back equal bytes in a new object each time, as Redis does."""

    async def get(self, key: str) -> bytes | None:
        raw = await super().get(key)
        return None if raw is None else bytes(bytearray(raw))


def counting_cache(backend: MemoryBackend, codec: EntryCodec) -> ResultCache:
    return ResultCache(backend, CachePolicy(), clock=Clock(), codec=codec)


async def read(cache: ResultCache, load: Counted) -> Any:
    return await cache.fetch("telzino", "fetch_minutes", (PAST, None), load, ttl=TtlClass.PAST)


# -- decoded entries -----------------------------------------------------------------------------


async def test_the_same_bytes_are_decoded_once_and_answer_what_decoding_answers() -> None:
    codec = CountingCodec()
    backend = MemoryBackend(100, clock=Clock())
    cache = counting_cache(backend, codec)
    load = Counted({"org-1": 120, "org-2": 0})
    first = await read(cache, load)  # a miss: fetched, stored, not decoded
    warm = [await read(cache, load) for _ in range(3)]
    assert load.calls == 1
    assert codec.decoded == 1
    assert all(w.value is warm[0].value for w in warm)  # one decoded value, shared
    raw = next(iter(backend._entries.values()))[1]
    assert warm[0].value == PLAIN.decode("fetch_minutes", raw).value == first.value
    assert warm[0].fetched_at == first.fetched_at


async def test_equal_bytes_from_another_store_are_not_decoded_again() -> None:
    codec = CountingCodec()
    cache = counting_cache(CopyingBackend(100, clock=Clock()), codec)
    load = Counted({"org-1": 7})
    await read(cache, load)
    values = [(await read(cache, load)).value for _ in range(3)]
    assert codec.decoded == 1
    assert values == [{"org-1": 7}] * 3


async def test_new_bytes_under_a_key_are_decoded_afresh() -> None:
    codec = CountingCodec()
    backend = MemoryBackend(100, clock=Clock())
    cache = counting_cache(backend, codec)
    await read(cache, Counted({"org-1": 1}))
    assert (await read(cache, Counted())).value == {"org-1": 1}
    # another replica (or a refresh) stores a new value under the same key
    key, (expires, _) = next(iter(backend._entries.items()))
    newer = Entry(Clock()(), Clock()() + 3600, {"org-1": 2})
    backend._entries[key] = (expires, PLAIN.encode("fetch_minutes", newer))
    assert (await read(cache, Counted())).value == {"org-1": 2}
    assert codec.decoded == 2


def test_decoded_entries_stay_within_their_byte_bound() -> None:
    kept = DecodedEntries(max_bytes=4000)
    for index in range(10):
        raw = bytes([index]) * 900
        kept.put(f"k{index}", raw, Entry(0.0, 1.0, index))
    assert kept.size <= 4000
    assert len(kept) == 4
    assert kept.get("k0", bytes([0]) * 900) is None  # the oldest went first
    found = kept.get("k9", bytes([9]) * 900)
    assert found is not None and found[0].value == 9
    assert kept.put("huge", b"x" * 1001, Entry(0.0, 1.0, "huge")) is None  # over a quarter


# -- values derived once per entry ---------------------------------------------------------------


async def test_derived_values_are_computed_once_per_entry_and_per_part() -> None:
    cache = counting_cache(MemoryBackend(100, clock=Clock()), PLAIN)
    load = Counted({"org-1": 120, "org-2": 60})
    fresh = await read(cache, load)
    computed: list[Any] = []

    def minutes(seconds: int | None) -> Decimal:
        computed.append(seconds)
        return Decimal(seconds or 0) / 60

    # a fresh fetch has no kept entry: computed each time, like before
    assert fresh.with_value(fresh.value["org-1"]).derive(minutes, minutes) == Decimal(2)
    answers = []
    for _ in range(3):
        warm = await read(cache, load)
        for org in ("org-1", "org-2"):
            answers.append(warm.with_value(warm.value[org]).derive(minutes, minutes))
    assert answers == [Decimal(2), Decimal(1)] * 3
    assert computed == [120, 120, 60]


# -- totals --------------------------------------------------------------------------------------


def reference_sum(parts: list[UsageMetrics]) -> UsageMetrics:
    """The plain definition: every counter summed over the parts that measure it."""
    values: dict[str, int | None] = {}
    for name in COUNTER_FIELDS:
        measured = [getattr(p, name) for p in parts if getattr(p, name) is not None]
        values[name] = sum(measured) if measured else None
    if values["knowledge_base_seconds"] is not None and not all(
        p.knowledge_base_known for p in parts
    ):
        values["knowledge_base_seconds"] = None
    return UsageMetrics(
        **values,  # type: ignore[arg-type]
        costs=add_costs(*(p.costs for p in parts)),
        other=add_quantities(*(p.other for p in parts)),
        wallet=add_wallet(*(p.wallet for p in parts)),
        problems=tuple(problem for p in parts for problem in p.problems),
    )


counts = st.one_of(st.none(), st.integers(min_value=0, max_value=10**9))
amounts = st.decimals(min_value=-1000, max_value=1000, places=4, allow_nan=False)
currencies = st.sampled_from(["EUR", "USD"])
metrics = st.builds(
    UsageMetrics,
    voice_seconds=counts,
    knowledge_base_seconds=counts,
    sms_outbound_segments=counts,
    api_requests=counts,
    costs=st.one_of(
        st.none(), st.tuples() | st.lists(st.builds(Charge, amounts, currencies)).map(tuple)
    ),
    other=st.one_of(
        st.none(),
        st.lists(st.builds(Quantity, amounts, st.just("AMD"), st.just("MINUTES"))).map(tuple),
    ),
    wallet=st.one_of(
        st.none(),
        st.lists(st.builds(WalletAmount, amounts, st.just("RECHARGE"), currencies)).map(tuple),
    ),
)


@given(st.lists(metrics, max_size=4))
def test_totals_equal_the_plain_definition(parts: list[UsageMetrics]) -> None:
    assert sum_metrics(parts) == reference_sum(parts)
    assert sum_metrics(parts) == reference_sum(parts)  # the kept total too


def test_the_same_parts_give_the_kept_total_and_equal_parts_an_equal_one() -> None:
    usd = (Charge(Decimal("1.25"), "USD"),)
    parts = [
        UsageMetrics(voice_seconds=60, costs=usd),
        UsageMetrics(voice_seconds=30, sms_outbound_segments=2),
    ]
    total = sum_metrics(parts)
    assert sum_metrics(list(parts)) is total
    copies = [
        UsageMetrics(voice_seconds=60, costs=usd),
        UsageMetrics(voice_seconds=30, sms_outbound_segments=2),
    ]
    again = sum_metrics(copies)
    assert again == total and again.voice_seconds == 90 and again.costs == usd


# -- range arithmetic ----------------------------------------------------------------------------


@given(st.dates(date(1999, 1, 1), date(2031, 12, 31)), st.integers(0, 800))
def test_range_months_and_expansion_match_the_calendar(first: date, span: int) -> None:
    last = first + timedelta(days=span)
    rng = DayRange(first, last)
    months = []
    day = first.replace(day=1)
    while day <= last:
        months.append(f"{day.year:04d}-{day.month:02d}")
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    assert rng.months == tuple(months)
    month_end = last.replace(day=monthrange(last.year, last.month)[1])
    assert rng.expanded_to_months() == DayRange(first.replace(day=1), month_end)
    assert rng.whole_months == (first.day == 1 and last == month_end)
