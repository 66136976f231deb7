"""Finding 9: cache values were pickled, so whoever could write to the Redis ran code in usagegraph.

Entries are now typed MessagePack decoded as the type registered for their fetch name. Here:
hostile bytes in the store (a live pickle payload, random, truncated, wrong shape, another type,
non-finite amounts, 10,000 digits, deep nesting, 4-billion-item headers, oversized) are each a
miss that is logged and counted, never a failure, a stall or a wrong answer; every registered
type round-trips exactly (property-based, and on real fetch results from the sandbox for every
fetch name); and values that cannot come back exactly are served but never stored.
"""

from __future__ import annotations

import logging
import pickle
import random
import time
from collections import Counter
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace
from redis.asyncio import Redis

from tests.fixtures.cached_graph import DASHBOARD, FAST, month_vars, post, serving
from tests.fixtures.graph import tuned_sandbox_settings
from usagegraph.cache_setup import result_cache
from usagegraph.clients.errors import UpstreamContractError, UpstreamError
from usagegraph.clients.talkdesk import TalkdeskUsageRow
from usagegraph.clients.teli import TeliSegments, TeliUsage, TeliVoice
from usagegraph.clients.telzino import TelzinoAgentInfo, TelzinoAgentMinutes, TelzinoOrgMinutes
from usagegraph.resolvers.cache import (
    CACHE_FORMAT,
    DEFAULT_MAX_ENTRY_BYTES,
    FETCH_VALUES,
    CachePolicy,
    Entry,
    EntryCodec,
    EntryError,
    MemoryBackend,
    RedisBackend,
    ResultCache,
    TtlClass,
    cache_key,
)
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer
from usagegraph.settings import ConfigError, settings_from_sources
from usagegraph.telemetry import bind_request

T0 = float(int(time.time()))  # entries below are fresh: only their bytes make them a miss
NAME = "fetch_minutes"
PARAMS = (("2025-09-01", "2025-09-30"), None)
KEY = cache_key("telzino", NAME, PARAMS)


def _error(field: str) -> UpstreamContractError:
    return UpstreamContractError(
        f"answered a body that breaks the contract: {field} is null",
        source="telzino",
        endpoint="GET /v1/reports/minutes-by-organization",
        status=200,
        field=field,
    )


ROW = TelzinoOrgMinutes(
    organization_id="o1",
    organization_name="Acme",
    reseller_id=None,
    reseller_name="Northwind",
    minutes=Decimal("12.50"),
    seconds=750,
    agent_count=2,
    agents=(
        TelzinoAgentMinutes("a1", "Ann", Decimal("12.50"), 750),
        TelzinoAgentMinutes("a2", "Bob", None, None, (("minutes", _error("data[0].agents[1]")),)),
    ),
    problems=(("minutes", _error("data[0].voice_minutes")),),
)
VALUE = {"o1": ROW}
FRESH = {"o1": replace(ROW, organization_name="Acme (fresh from the vendor)")}

CODEC = EntryCodec(FETCH_VALUES)
VALID = CODEC.encode(NAME, Entry(T0, T0 + 3600, VALUE))


# -- exact comparison: a row's == skips `problems`, and errors compare by identity ----------------


def _field_names(value: Any) -> tuple[str, ...] | None:
    """The fields of a dataclass or msgspec Struct instance (None for anything else)."""
    if isinstance(value, msgspec.Struct):
        return value.__struct_fields__
    if is_dataclass(value) and not isinstance(value, type):
        return tuple(f.name for f in fields(value))
    return None


def assert_exact(a: Any, b: Any, path: str = "$") -> None:
    """`a` and `b` are the same value: types (tuple is not list), Decimal digits, exponent and
    sign, every dataclass or Struct field (problems too), every error's fields and text, dict
    order."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, Decimal):
        assert a.as_tuple() == b.as_tuple(), f"{path}: {a!r} != {b!r}"
    elif isinstance(a, float):
        assert a.hex() == b.hex(), f"{path}: {a!r} != {b!r}"
    elif isinstance(a, UpstreamError):
        seen = (str(a), a.args, a.message, a.source, a.endpoint, a.status, a.attempts, a.code)
        back = (str(b), b.args, b.message, b.source, b.endpoint, b.status, b.attempts, b.code)
        assert seen == back, path
        assert getattr(a, "field", None) == getattr(b, "field", None), path
    elif (names := _field_names(a)) is not None:
        for name in names:
            assert_exact(getattr(a, name), getattr(b, name), f"{path}.{name}")
    elif isinstance(a, tuple | list):
        assert len(a) == len(b), f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_exact(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys differ"
        for k in a:
            assert_exact(a[k], b[k], f"{path}[{k!r}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


# -- a live pickle payload ------------------------------------------------------------------------

MARKS: list[str] = []


def _mark(text: str) -> str:
    MARKS.append(text)
    return text


class Exploit:
    """Unpickling it calls `_mark`: any code could run in its place."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return _mark, ("code ran in the server",)


PICKLE_PAYLOAD = pickle.dumps(Exploit())


def test_the_pickle_payload_is_live() -> None:
    """What the old cache would have done with it (so the tests below prove something)."""
    MARKS.clear()
    pickle.loads(PICKLE_PAYLOAD)
    assert MARKS == ["code ran in the server"]
    MARKS.clear()


# -- hostile entries ------------------------------------------------------------------------------


def _shape() -> list[Any]:
    """The valid entry as plain MessagePack data, to damage one piece at a time."""
    return msgspec.msgpack.decode(VALID)


def _with(path: tuple[Any, ...], value: Any) -> bytes:
    data = _shape()
    target = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return msgspec.msgpack.encode(data)


def _spliced(path: tuple[Any, ...], raw: bytes) -> bytes:
    """The valid entry with the value at `path` replaced by raw MessagePack bytes."""
    marker = "SPLICE-" + "x" * 20
    encoded = _with(path, marker)
    return encoded.replace(msgspec.msgpack.encode(marker), raw)


DEEP = b"\x91" * 100_000 + b"\xc0"  # [[[[...null...]]]], 100,000 levels
ROW_AT = (2, "o1")

HOSTILE: dict[str, bytes] = {
    "a pickle with __reduce__": PICKLE_PAYLOAD,
    "a pickle of a real entry": pickle.dumps((T0, T0 + 3600, VALUE)),
    "random bytes": random.Random(9).randbytes(4096),
    "nothing": b"",
    "a truncated entry": VALID[: len(VALID) // 2],
    "an entry with trailing bytes": VALID + b"\xc0",
    "the entry as JSON text": msgspec.json.encode(_shape()),
    "a map instead of the entry array": msgspec.msgpack.encode(
        {"fetched_at": T0, "fresh_until": T0 + 3600, "value": _shape()[2]}
    ),
    "another fetch's type": CODEC.encode(
        "fetch_usage",
        Entry(
            T0,
            T0 + 3600,
            TeliUsage("o1", None, "Acme", None, TeliSegments(1, 2), None, TeliVoice(3), None, None),
        ),
    ),
    "an unknown type (a MessagePack extension)": _with(ROW_AT, msgspec.msgpack.Ext(42, b"pickle")),
    "a row missing a field": msgspec.msgpack.encode(
        [T0, T0 + 3600, {"o1": {k: v for k, v in _shape()[2]["o1"].items() if k != "seconds"}}]
    ),
    "an amount that is NaN": _with((*ROW_AT, "minutes"), "NaN"),
    "an amount that is sNaN": _with((*ROW_AT, "agents", 0, "minutes"), "sNaN"),
    "an amount that is -Infinity": _with((*ROW_AT, "minutes"), "-Infinity"),
    "an amount that is no number": _with((*ROW_AT, "minutes"), "12,50"),
    "a count with 10,000 digits": _with((*ROW_AT, "seconds"), "9" * 10_000),
    "a count as a float": _with((*ROW_AT, "seconds"), 750.0),
    "a fetch time that is NaN": _with((0,), float("nan")),
    "a freshness that is infinite": _with((1,), float("inf")),
    "a fetch time before 1970": _with((0,), -1.0),
    "a fetch time past year 9999": _with((0,), 1e300),
    "an error with a mistyped status": _with((*ROW_AT, "problems", 0, 1, 3), "200"),
    "an error with a field too many": _with(
        (*ROW_AT, "problems", 0, 1), ["m", "s", "e", 200, 1, "f", "extra"]
    ),
    "nesting 100,000 deep in a problem": _spliced((*ROW_AT, "problems", 0, 1), DEEP),
    "nesting 100,000 deep": DEEP,
    "a 4-billion-item array header": b"\x93\xcb" + b"\x00" * 8 + b"\xcb" + b"\x00" * 8 + b"\xdd"
    b"\xff\xff\xff\xff",
    "a 4-billion-entry map header": _spliced((2,), b"\xdf\xff\xff\xff\xff"),
}


class Observer:
    """Counts what the cache reports to the app's metrics."""

    def __init__(self) -> None:
        self.lookups: Counter[tuple[str, bool]] = Counter()
        self.errors: Counter[tuple[str, str]] = Counter()

    def record_cache(self, backend: str, hit: bool) -> None:
        self.lookups[backend, hit] += 1

    def record_cache_error(self, backend: str, reason: str) -> None:
        self.errors[backend, reason] += 1


class Load:
    def __init__(self, value: Any = FRESH) -> None:
        self.value = value
        self.calls = 0

    async def __call__(self) -> Any:
        self.calls += 1
        return self.value


async def _fetch(cache: ResultCache, load: Load) -> Any:
    return await cache.fetch("telzino", NAME, PARAMS, load, ttl=TtlClass.PAST)


@pytest.fixture
def memory_cache() -> ResultCache:
    return ResultCache(MemoryBackend(100), CachePolicy())


@pytest.mark.parametrize("raw", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_a_hostile_entry_is_a_counted_miss_then_replaced(
    memory_cache: ResultCache, raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    MARKS.clear()
    await memory_cache.backend.set(KEY, raw, 3600)
    observer, load = Observer(), Load()

    with bind_request("req-hostile", observer):
        started = time.perf_counter()
        first = await _fetch(memory_cache, load)
        held = time.perf_counter() - started
        second = await _fetch(memory_cache, load)

    assert MARKS == []  # no code ran
    assert load.calls == 1  # the hostile entry was a miss; the fresh value replaced it
    assert_exact(first.value, FRESH)
    assert_exact(second.value, FRESH)
    assert observer.errors == {("memory", "unreadable"): 1}
    assert observer.lookups == {("memory", False): 1, ("memory", True): 1}
    assert held < 0.05, f"held the event loop {held * 1000:.0f} ms"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and KEY in warnings[0].getMessage()


async def test_an_entry_over_max_entry_bytes_is_a_miss_without_being_decoded() -> None:
    cache = ResultCache(
        MemoryBackend(10), CachePolicy(), codec=EntryCodec(FETCH_VALUES, max_bytes=1024)
    )
    name = "x" * 2000  # a valid entry, just too large
    await cache.backend.set(KEY, _with((*ROW_AT, "organization_name"), name), 3600)
    observer, load = Observer(), Load()
    with bind_request("req-big", observer):
        fetched = await _fetch(cache, load)
    assert_exact(fetched.value, FRESH)
    assert load.calls == 1
    assert observer.errors == {("memory", "oversized"): 1}


async def test_an_entry_over_the_default_8_mib_is_refused_before_decoding(
    memory_cache: ResultCache,
) -> None:
    raw = _with((*ROW_AT, "organization_name"), "x" * (8 * 1024 * 1024))
    await memory_cache.backend.set(KEY, raw, 3600)
    observer, load = Observer(), Load()
    with bind_request("req-huge", observer):
        started = time.perf_counter()
        fetched = await _fetch(memory_cache, load)
        held = time.perf_counter() - started
    assert_exact(fetched.value, FRESH)
    assert observer.errors == {("memory", "oversized"): 1}
    assert held < 0.05


def test_a_10000_digit_amount_is_read_exactly_and_quickly() -> None:
    """An amount is the vendor's exact decimal text: long is not hostile (JSON from a vendor
    can say the same); it costs linear time, unlike a 10,000-digit int (refused above)."""
    digits = "1" * 5_000 + "." + "2" * 5_000
    raw = _with((*ROW_AT, "minutes"), digits)
    started = time.perf_counter()
    entry = CODEC.decode(NAME, raw)
    assert time.perf_counter() - started < 0.01
    assert entry.value["o1"].minutes.as_tuple() == Decimal(digits).as_tuple()


# -- values that cannot be stored exactly are served, not stored ----------------------------------


UNSTORABLE: dict[str, tuple[Any, str]] = {
    "an int beyond 64 bits": ({"o1": replace(ROW, seconds=2**64)}, "unstorable"),
    "a lone surrogate in a name": ({"o1": replace(ROW, organization_name="\ud800")}, "unstorable"),
    "a value of another type": ([ROW], "unstorable"),
    "an unregistered class": ({"o1": replace(ROW, agents=(object(),))}, "unstorable"),
    "a value over max_entry_bytes": (
        {"o1": replace(ROW, organization_name="x" * 2048)},
        "oversized",
    ),
}


@pytest.mark.parametrize(("value", "reason"), list(UNSTORABLE.values()), ids=list(UNSTORABLE))
async def test_a_value_that_cannot_come_back_exactly_is_served_but_not_stored(
    value: Any, reason: str
) -> None:
    cache = ResultCache(
        MemoryBackend(10), CachePolicy(), codec=EntryCodec(FETCH_VALUES, max_bytes=2048)
    )
    observer, load = Observer(), Load(value)
    with bind_request("req-unstorable", observer):
        first = await _fetch(cache, load)
        second = await _fetch(cache, load)
    assert first.value is value and second.value is value
    assert load.calls == 2  # nothing was stored
    assert await cache.backend.get(KEY) is None
    assert observer.errors == {("memory", reason): 2}


def test_max_entry_bytes_defaults_to_8_mib_and_reaches_the_codec(sandbox: SandboxServer) -> None:
    default = settings_from_sources(sandbox.sources())
    assert default.cache.max_entry_bytes == DEFAULT_MAX_ENTRY_BYTES == 8 * 1024 * 1024
    tuned = settings_from_sources(sandbox.sources(), cache={"max_entry_bytes": 4096})
    cache = result_cache(tuned, MemoryBackend(10))
    assert cache is not None and cache.codec.max_bytes == 4096
    assert cache.codec.names == set(FETCH_VALUES)


@pytest.mark.parametrize("value", [0, 1023, "lots"])
def test_a_bad_max_entry_bytes_is_a_one_line_error_naming_the_key(
    sandbox: SandboxServer, value: Any
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_sources(sandbox.sources(), cache={"max_entry_bytes": value})
    assert "cache.max_entry_bytes" in str(caught.value) and "\n" not in str(caught.value)


def test_an_unregistered_fetch_name_is_neither_stored_nor_read() -> None:
    with pytest.raises(EntryError) as stored:
        CODEC.encode("fetch_everything", Entry(T0, T0, VALUE))
    with pytest.raises(EntryError) as read:
        CODEC.decode("fetch_everything", VALID)
    assert (stored.value.reason, read.value.reason) == ("unstorable", "unreadable")


class Mutable(msgspec.Struct):
    value: int


class Tagged(msgspec.Struct, frozen=True, tag=True):
    value: int


@pytest.mark.parametrize(
    "value_type",
    [
        datetime,
        dict[str, Any],
        list[object],
        dict[tuple[str, str], int],
        ValueError,
        set[str],
        dict[str, Mutable],
        tuple[Tagged, ...],
        TelzinoAgentInfo,
    ],
    ids=[
        "datetime",
        "Any",
        "object",
        "tuple keys",
        "another class",
        "set",
        "a mutable Struct",
        "a tagged Struct",
        "a Struct holding a datetime",
    ],
)
def test_the_codec_refuses_types_it_cannot_bring_back_exactly(value_type: Any) -> None:
    with pytest.raises(TypeError):
        EntryCodec({"fetch_x": value_type})


def test_keys_carry_the_new_format_so_old_pickles_are_never_read() -> None:
    assert CACHE_FORMAT == 3
    assert KEY.startswith("fetch:3:telzino:fetch_minutes:")


# -- exact round trips, property-based ------------------------------------------------------------

_INT64 = st.integers(-(2**63), 2**64 - 1)


def _error_strategy() -> st.SearchStrategy[UpstreamContractError]:
    return st.builds(
        UpstreamContractError,
        st.text(),
        source=st.text(),
        endpoint=st.text(),
        status=st.none() | _INT64,
        attempts=_INT64,
        field=st.none() | st.text(),
    )


def values_of(info: mi.Type) -> st.SearchStrategy[Any]:
    """Every value msgspec's type `info` describes (finite Decimals: no reader makes others)."""
    if isinstance(info, mi.NoneType):
        return st.none()
    if isinstance(info, mi.BoolType):
        return st.booleans()
    if isinstance(info, mi.IntType):
        return _INT64
    if isinstance(info, mi.FloatType):
        return st.floats()
    if isinstance(info, mi.StrType):
        return st.text()
    if isinstance(info, mi.DateType):
        return st.dates()
    if isinstance(info, mi.DecimalType):
        return st.decimals(allow_nan=False, allow_infinity=False)
    if isinstance(info, mi.UnionType):
        return st.one_of(*(values_of(t) for t in info.types))
    if isinstance(info, mi.VarTupleType):
        return st.lists(values_of(info.item_type), max_size=3).map(tuple)
    if isinstance(info, mi.TupleType):
        return st.tuples(*(values_of(t) for t in info.item_types))
    if isinstance(info, mi.DictType):
        return st.dictionaries(values_of(info.key_type), values_of(info.value_type), max_size=3)
    if isinstance(info, mi.DataclassType | mi.StructType):
        return st.builds(info.cls, **{f.name: values_of(f.type) for f in info.fields})
    if isinstance(info, mi.CustomType) and info.cls is UpstreamContractError:
        return _error_strategy()
    raise AssertionError(f"no strategy for {info}")


NAMED_VALUES = st.sampled_from(sorted(FETCH_VALUES)).flatmap(
    lambda name: st.tuples(st.just(name), values_of(mi.type_info(FETCH_VALUES[name])))
)
MOMENTS = st.floats(min_value=0, max_value=253402300799, allow_nan=False)
EXAMPLES = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@EXAMPLES
@given(NAMED_VALUES, MOMENTS, MOMENTS)
def test_every_registered_type_round_trips_exactly(
    named: tuple[str, Any], fetched_at: float, fresh_until: float
) -> None:
    name, value = named
    back = CODEC.decode(name, CODEC.encode(name, Entry(fetched_at, fresh_until, value)))
    assert_exact(back, Entry(fetched_at, fresh_until, value))


@EXAMPLES
@given(st.decimals(allow_nan=False, allow_infinity=False), st.none() | st.text())
def test_amounts_keep_their_digits_exponent_and_sign(amount: Decimal, text: str | None) -> None:
    row = TalkdeskUsageRow(
        None, "acct", text, None, "2025-09", "CALL", text, "USD", None, None, "MINUTES",
        amount, None, amount, amount, (("price", _error("price")),),
    )  # fmt: skip
    value = {"acct": (row,)}
    back = CODEC.decode("fetch_rows", CODEC.encode("fetch_rows", Entry(T0, T0, value)))
    assert_exact(back.value, value)
    assert str(back.value["acct"][0].total_amount) == str(amount)


def test_dates_none_and_tuples_come_back_as_themselves() -> None:
    usage = TeliUsage("o1", None, "Acme", None, None, TeliSegments(0, 0), TeliVoice(5, None, 2),
                      date(2025, 9, 1), None)  # fmt: skip
    back = CODEC.decode("fetch_usage", CODEC.encode("fetch_usage", Entry(T0, T0 + 1, usage)))
    assert_exact(back.value, usage)
    assert back.value.first == date(2025, 9, 1) and back.value.last is None


# -- fuzz: whatever the bytes, an EntryError or a value of the registered type ---------------------


def _is_minutes_report(value: Any) -> bool:
    def agent_ok(agent: Any) -> bool:
        return type(agent) is TelzinoAgentMinutes and (
            agent.minutes is None or agent.minutes.is_finite()
        )

    return type(value) is dict and all(
        type(k) is str
        and type(row) is TelzinoOrgMinutes
        and (row.minutes is None or row.minutes.is_finite())
        and (row.agents is None or all(agent_ok(a) for a in row.agents))
        and all(type(e) is UpstreamContractError for _, e in row.problems)
        for k, row in value.items()
    )


@EXAMPLES
@given(st.binary(max_size=2048))
def test_random_bytes_decode_to_an_error_or_the_registered_type(raw: bytes) -> None:
    try:
        entry = CODEC.decode(NAME, raw)
    except EntryError as exc:
        assert exc.reason == "unreadable"
    else:
        assert _is_minutes_report(entry.value)


@EXAMPLES
@given(st.data())
def test_a_damaged_entry_decodes_to_an_error_or_the_registered_type(data: st.DataObject) -> None:
    damaged = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 8))):
        damaged[data.draw(st.integers(0, len(VALID) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(VALID)))
    try:
        entry = CODEC.decode(NAME, bytes(damaged[:cut] if cut else damaged))
    except EntryError:
        return
    assert _is_minutes_report(entry.value)
    assert 0 <= entry.fetched_at <= 253402300799 and 0 <= entry.fresh_until <= 253402300799


# -- real fetch results from the sandbox, every fetch name ----------------------------------------


class Recording(EntryCodec):
    """The real codec, keeping each value it stores with its bytes."""

    def __init__(self) -> None:
        super().__init__(FETCH_VALUES)
        self.stored: list[tuple[str, Any, bytes]] = []

    def encode(self, name: str, entry: Entry[Any]) -> bytes:
        raw = super().encode(name, entry)
        self.stored.append((name, entry.value, raw))
        return raw


def _problems_in(value: Any) -> int:
    if isinstance(value, UpstreamContractError):
        return 1
    if (names := _field_names(value)) is not None:
        return sum(_problems_in(getattr(value, name)) for name in names)
    if isinstance(value, tuple | list):
        return sum(_problems_in(v) for v in value)
    if isinstance(value, dict):
        return sum(_problems_in(v) for v in value.values())
    return 0


# shapes the vendors' docs allow that leave problems (UpstreamContractErrors) in the rows
PROBLEM_VARIANTS = ("teli-no-total-cost", "teli-no-cost-breakdown", "talkdesk-unmapped-units")


@pytest.mark.parametrize("variants", [(), PROBLEM_VARIANTS], ids=["default", "with problems"])
async def test_real_fetch_results_round_trip_exactly_for_every_fetch_name(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, variants: tuple[str, ...]
) -> None:
    sandbox.control.enable(*variants)
    settings_ = tuned_sandbox_settings(sandbox, directory_file, FAST)
    recording = Recording()
    async with serving(settings_) as (app, client):
        app.state.graph.cache.codec = recording
        cold = await post(client, DASHBOARD, month_vars(dataset))
        sandbox.control.reset()
        warm = await post(client, DASHBOARD, month_vars(dataset))

    assert warm == cold
    assert ("errors" in cold) == bool(variants)  # the problems null their figures, with why
    assert sandbox.control.count() == 0  # every entry read back as a hit
    assert {name for name, _, _ in recording.stored} == set(FETCH_VALUES)
    for name, value, raw in recording.stored:
        assert_exact(recording.decode(name, raw).value, value, name)
    problems = sum(_problems_in(value) for _, value, _ in recording.stored)
    assert (problems > 0) == bool(variants)


# -- Redis: what another writer leaves in it ------------------------------------------------------


async def test_hostile_redis_entries_cost_a_refetch_never_a_wrong_answer(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("redis_url")
    # whole answers off: this is about the fetches (kept answers: tests/usagegraph/test_answers.py)
    cache = {"backend": "redis", "url": url, "answers": False}
    settings_ = tuned_sandbox_settings(sandbox, directory_file, FAST, cache=cache)
    raw = Redis.from_url(url)
    MARKS.clear()
    try:
        async with serving(settings_) as (_, client):
            cold = await post(client, DASHBOARD, month_vars(dataset))
        cold_calls = sandbox.control.count()
        keys = await raw.keys("usagegraph:v1:fetch:*")
        assert keys and all(k.startswith(b"usagegraph:v1:fetch:3:") for k in keys)
        # any of them is hostile under any key, except a well-formed TeliUsage under a
        # fetch_usage key: that one is a forged value, which only a signature could refuse
        payloads = [payload for name, payload in HOSTILE.items() if name != "another fetch's type"]
        for i, key in enumerate(sorted(keys)):
            await raw.set(key, payloads[i % len(payloads)], keepttl=True)
        sandbox.control.reset()

        async with serving(settings_) as (_, client):  # a fresh replica: only Redis remembers
            again = await post(client, DASHBOARD, month_vars(dataset))
            metrics = (await client.get("/metrics")).text
    finally:
        await raw.aclose()

    assert MARKS == []
    assert again == cold
    assert sandbox.control.count() == cold_calls  # every entry was a miss: fetched again
    unreadable = 'usagegraph_cache_errors_total{backend="redis",reason="unreadable"}'
    assert f"{unreadable} {float(len(keys))}" in metrics


async def test_a_pickle_in_redis_runs_nothing(request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("redis_url")
    backend = RedisBackend(url)
    cache = ResultCache(backend, CachePolicy())
    raw = Redis.from_url(url)
    MARKS.clear()
    try:
        await raw.set(f"usagegraph:v1:{KEY}", PICKLE_PAYLOAD, ex=60)
        observer, load = Observer(), Load()
        with bind_request("req-redis", observer):
            fetched = await _fetch(cache, load)
        stored = await raw.get(f"usagegraph:v1:{KEY}")
    finally:
        await raw.aclose()
        await backend.close()
    assert MARKS == []
    assert_exact(fetched.value, FRESH)
    assert observer.errors == {("redis", "unreadable"): 1}
    assert stored is not None and stored != PICKLE_PAYLOAD
    assert_exact(CODEC.decode(NAME, stored).value, FRESH)  # replaced by a good entry
    assert CODEC.decode(NAME, stored).fetched_at <= datetime.now(UTC).timestamp()
