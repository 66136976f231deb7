"""The fast path (msgspec shapes) answers exactly what the reference path (json.loads and the
tolerant readers) answers: the same models, the same problems with the same JSON paths, the same
errors, for every sandbox body of every variant and for hostile mutations of them."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.vendor_bodies import Answer, every_kind
from usagegraph.clients import bodies, talkdesk, teli, telzino
from usagegraph.clients.bodies import Unusual
from usagegraph.clients.errors import UpstreamContractError
from usagegraph.sandbox.control import VARIANTS, SandboxControl
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer

ENDPOINTS = {
    **{f"telzino {e}": b for e, b in telzino.BODIES.items()},
    **{f"teli {e}": b for e, b in teli.BODIES.items()},
    **{f"talkdesk {e}": b for e, b in talkdesk.BODIES.items()},
}
LIVE_VARIANTS = sorted(name for name in VARIANTS if not name.endswith("-down"))
_ENCODE = msgspec.json.Encoder(decimal_format="number").encode


def deep(value: Any) -> Any:
    """Everything a caller could tell apart: every field (problems too), Decimals by their
    digits (1.5 is not 1.50), errors by type, text, field and status, datetimes by offset."""
    if isinstance(value, msgspec.Struct):
        names = value.__struct_fields__
        return type(value).__name__, tuple((name, deep(getattr(value, name))) for name in names)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return type(value).__name__, tuple((f.name, deep(getattr(value, f.name))) for f in fields)
    if isinstance(value, UpstreamContractError):
        return "error", str(value), value.field, value.status
    if isinstance(value, tuple | list):
        return type(value).__name__, tuple(deep(item) for item in value)
    if isinstance(value, Decimal):
        return "Decimal", str(value)
    if isinstance(value, datetime):
        return "datetime", value.isoformat(), repr(value.tzinfo)
    return type(value).__name__, value


def outcome(decode: Callable[[], Any]) -> Any:
    """What a decode answers, or the error it raises (an error's type and text)."""
    try:
        return "value", deep(decode())
    except UpstreamContractError as error:
        return "raised", deep(error)
    except (ArithmeticError, RecursionError) as error:  # neither path's to catch: both raise
        return "raised", type(error).__name__, str(error)


# -- every sandbox body, every variant -------------------------------------------------------------


@pytest.mark.parametrize("variant", [None, *LIVE_VARIANTS])
async def test_both_paths_read_every_sandbox_body_alike(
    variant: str | None, sandbox: SandboxServer, control: SandboxControl, dataset: Dataset
) -> None:
    if variant is not None:
        control.enable(variant)
    answers = await every_kind(sandbox.sources(), dataset.start, dataset.end)
    assert {a.kind for a in answers} == set(ENDPOINTS)  # every endpoint of the three clients
    for answer in answers:
        assert outcome(answer.fast) == outcome(answer.reference), answer.kind


async def test_the_sandbox_bodies_take_the_fast_path_whole(
    sandbox: SandboxServer, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No body of the default sandbox needs the reference path, nor any row its tolerant
    reader: the speed-up holds for the shapes the vendors document."""
    answers = await every_kind(sandbox.sources(), dataset.start, dataset.end)
    rows_left_to_readers: list[Any] = []
    as_mapping = bodies.as_mapping

    def noting(shaped: Any, **options: Any) -> dict[str, Any]:
        rows_left_to_readers.append(shaped)
        return as_mapping(shaped, **options)

    monkeypatch.setattr(bodies, "as_mapping", noting)
    for answer in answers:
        try:
            answer.body.decode_fast(answer.reader, answer.content, *answer.context)
        except Unusual:
            pytest.fail(f"a {answer.kind} body left to the reference path")
    assert rows_left_to_readers == []


# -- hostile bodies --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def samples(_sandbox_server: SandboxServer, dataset: Dataset) -> list[Answer]:
    """The first body of each kind the default S sandbox serves."""
    _sandbox_server.control.reset()
    answers = asyncio.run(every_kind(_sandbox_server.sources(), dataset.start, dataset.end))
    first: dict[str, Answer] = {}
    for answer in answers:
        first.setdefault(answer.kind, answer)
    return sorted(first.values(), key=lambda a: a.kind)


def with_content(answer: Answer, content: bytes) -> Answer:
    return dataclasses.replace(answer, content=content)


def spliced(answer: Answer, old: bytes, new: bytes) -> Answer:
    """The body with the first `old` replaced (the body unchanged when it has none)."""
    return with_content(answer, answer.content.replace(old, new, 1))


def first_minutes(text: bytes) -> Callable[[Answer], Answer]:
    """The body with its first minutes figure `text` (the old value left under "x")."""
    return lambda a: spliced(a, b'minutes":', b'minutes":' + text + b',"x":')


def twice(answer: Answer, value: bytes, *, first: bool, key: bytes = rb"\w*id") -> Answer:
    """The body with its first `key` given twice, `value` before or after the real one (JSON
    readers keep the last)."""
    found = re.search(rb'"(' + key + rb')":', answer.content)
    if found is None:
        return answer
    extra = b'"' + found.group(1) + b'":' + value + b","
    # after the real value: it ends at the next comma (ids and figures hold none)
    at = found.start() if first else answer.content.index(b",", found.end()) + 1
    return with_content(answer, answer.content[:at] + extra + answer.content[at:])


HOSTILE: dict[str, Callable[[Answer], Answer]] = {
    "a byte-order mark": lambda a: with_content(a, b"\xef\xbb\xbf" + a.content),
    "NaN minutes": first_minutes(b"NaN"),
    "-Infinity minutes": first_minutes(b"-Infinity"),
    "minutes no decimal holds": first_minutes(b"1e9999999999999999999"),
    "minutes that overflow in seconds": first_minutes(b"1e999999"),
    "minutes with 30 digits": first_minutes(b"123456789012345678901234567.891"),
    "a lone surrogate in a name": lambda a: spliced(a, b'name":"', b'name":"\\ud800'),
    "truncated": lambda a: with_content(a, a.content[: len(a.content) // 2]),
    "trailing garbage": lambda a: with_content(a, a.content + b"]"),
    "nested 100,000 deep in an extra field": lambda a: spliced(
        a, b"{", b'{"extra":' + b"[" * 100_000 + b"]" * 100_000 + b","
    ),
    "an id first a number": lambda a: spliced(a, b'_id":', b'_id":7,"id":7,"agent_id":'),
    "an id twice, a number first": lambda a: twice(a, b"7", first=True),
    "an id twice, a number last": lambda a: twice(a, b"7", first=False),
    "a figure twice, a string first": lambda a: twice(a, b'"12.5"', first=True, key=rb"\w*minutes"),
    "the whole body an array": lambda a: with_content(a, b"[" + a.content + b"]"),
    "UTF-16": lambda a: with_content(a, a.content.decode().encode("utf-16")),
}


@pytest.mark.parametrize("hostile", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_bodies_get_the_reference_answer(
    samples: list[Answer], hostile: Callable[[Answer], Answer]
) -> None:
    for sample in samples:
        answer = hostile(sample)
        assert outcome(answer.fast) == outcome(answer.reference), answer.kind


# -- every field of the first rows, each odd value -------------------------------------------------

_DELETE = object()
ODD_VALUES: list[Any] = [
    _DELETE, None, "", "12.5", True, -1, 0, 7, Decimal("3.0"), Decimal("2.5"), Decimal("-0.0"),
    [], {"nested": 1},
]  # fmt: skip


def _nodes(tree: Any, path: tuple[Any, ...] = (), rows: int = 3) -> Iterator[tuple[Any, ...]]:
    """Every place in a decoded body, as the keys and indexes leading to it (the first `rows`
    items of each array: a few rows say as much as all)."""
    yield path
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _nodes(value, (*path, key), rows)
    elif isinstance(tree, list):
        for index, value in enumerate(tree[:rows]):
            yield from _nodes(value, (*path, index), rows)


def _trimmed(tree: Any, rows: int = 2) -> Any:
    """The body with at most `rows` items in each array."""
    if isinstance(tree, dict):
        return {key: _trimmed(value, rows) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_trimmed(value, rows) for value in tree[:rows]]
    return tree


def _changed(tree: Any, path: tuple[Any, ...], value: Any) -> Any:
    tree = copy.deepcopy(tree)
    holder = tree
    for step in path[:-1]:
        holder = holder[step]
    if value is not _DELETE:
        holder[path[-1]] = value
    elif isinstance(holder, dict):
        del holder[path[-1]]
    else:
        holder.pop(path[-1])
    return tree


def test_each_field_of_the_first_rows_read_alike_whatever_its_value(
    samples: list[Answer],
) -> None:
    for sample in samples:
        tree = _trimmed(json.loads(sample.content, parse_float=Decimal))
        for path in list(_nodes(tree))[1:]:
            for value in ODD_VALUES:
                answer = with_content(sample, _ENCODE(_changed(tree, path, value)))
                assert outcome(answer.fast) == outcome(answer.reference), (sample.kind, path, value)


# -- random mutations ------------------------------------------------------------------------------

_TEXTS = st.sampled_from(
    ["", "x", "USD", "usd", "API_REQUEST", "MINUTES", "2026-11", "2026-13", "12.5", "3",
     "2026-11-01T00:00:00Z", "2026-11-01T00:00:00", "11/1/2026", "yesterday"]
)  # fmt: skip
_NUMBERS = st.sampled_from(
    [Decimal("0.06"), Decimal("3.0"), Decimal("2.5"), Decimal("-1.25"), Decimal("1E+3"),
     Decimal("-0.0"), Decimal("12.340")]
)  # fmt: skip
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | _NUMBERS
    | _TEXTS
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXTS, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mutated(draw: st.DrawFn, samples: list[Answer]) -> Answer:
    """A sample body with one to three places replaced, deleted or given an extra key."""
    answer = draw(st.sampled_from(samples))
    tree = json.loads(answer.content, parse_float=Decimal)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(list(_nodes(tree))))
        if not path:
            continue
        holder = tree
        for step in path[:-1]:
            holder = holder[step]
        action = draw(st.sampled_from(["replace", "delete", "extra"]))
        if action == "replace":
            holder[path[-1]] = draw(_VALUES)
        elif action == "delete" and isinstance(holder, dict):
            del holder[path[-1]]
        elif isinstance(holder[path[-1]], dict):
            holder[path[-1]][draw(_TEXTS)] = draw(_VALUES)
    return with_content(answer, _ENCODE(tree))


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_bodies_get_the_reference_answer(
    samples: list[Answer], data: st.DataObject
) -> None:
    answer = data.draw(mutated(samples))
    assert outcome(answer.fast) == outcome(answer.reference), answer.kind
