"""How a vendor answer's bytes become what a client returns: a fast path, and the reference path.

The reference path is what the clients always did: `json.loads(parse_float=Decimal)`, then the
tolerant `JsonReader` reads of clients/decoding.py. It judges every body and names what is wrong
with it, but it is slow on the large answers (measured: see
docs/measurements.md#vendor-body-decoding). The fast path decodes the body with msgspec into
Structs that carry the vendor's own field names (`clients/*_shapes.py`) and builds the models
straight from them. It only ever answers what the reference path would:

- msgspec's JSON is stricter than `json.loads`'s (no NaN or Infinity, no byte-order mark, no lone
  surrogate, UTF-8 only) and, where both accept a body, reads the same values
  (`float_hook=Decimal` is `parse_float=Decimal`: the number's own text, exactly);
- a shape types strictly only what the reference path requires (the id a row is attributed by,
  the arrays of rows); every other field is `Any` and the fast function checks it the way
  `JsonReader`'s hot path does;
- a row whose values are not all well-formed raises `Unusual`, and the vendor's tolerant row
  reader reads it (`as_mapping` hands it the row as decoded), so its problems and their JSON paths
  are the reference path's;
- anything else (a body msgspec refuses or that does not fit the shape, an odd page-level field)
  raises `Unusual` out of the fast function, and the reference path reads the whole body again:
  same values, same `UPSTREAM_CONTRACT` error as ever.

Hostile bodies stay bounded: both parsers refuse nesting beyond the interpreter's recursion limit,
and the reference path answers that, or a number no Decimal can hold, with `UPSTREAM_CONTRACT`.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from functools import cache
from typing import Any, Final, Generic, TypeVar

import msgspec

from usagegraph.clients.decoding import JsonReader
from usagegraph.clients.errors import UpstreamContractError

__all__ = [
    "Body",
    "Unusual",
    "as_mapping",
    "count",
    "dict_setter",
    "frozen_maker",
    "integer",
    "label",
    "number",
    "parse_json",
    "read_rows",
]

S = TypeVar("S")
T = TypeVar("T")
Row = TypeVar("Row", bound=msgspec.Struct)

UNSET: Final = msgspec.UNSET

# What msgspec raises for a body it will not read as its shape: bad JSON or another shape
# (DecodeError, ValidationError), nesting past the recursion limit, or a number Decimal refuses.
_UNREADABLE: Final = (msgspec.DecodeError, RecursionError, ArithmeticError)


class Unusual(Exception):
    """A value the fast path leaves to the tolerant reader (a row's, or the whole body's)."""


# -- the fast path's reads: JsonReader's well-formed cases, and `Unusual` for the rest -------------


def number(value: Any) -> Decimal:
    """A figure as `JsonReader.soft_number` reads a well-formed one. msgspec's `float_hook`
    only ever makes finite Decimals (JSON has no NaN), so no `is_finite` check is needed."""
    if type(value) is Decimal:
        return value
    if type(value) is int:
        return Decimal(value)
    raise Unusual


def integer(value: Any) -> int:
    """A figure as `JsonReader.soft_integer` reads a well-formed one."""
    if type(value) is int:
        return value
    raise Unusual


def count(value: Any) -> int:
    """A figure as `JsonReader.soft_count` reads a well-formed one."""
    if type(value) is int and value >= 0:
        return value
    raise Unusual


def label(value: Any) -> str | None:
    """A text that feeds no figure, as `JsonReader.label` reads it (absent: UNSET, so None)."""
    return value if type(value) is str else None


def parse_json(
    content: bytes,
    *,
    source: str,
    endpoint: str,
    status: int,
    parse_float: Callable[[str], Any] | None = Decimal,
) -> Any:
    """`content` as JSON (floats exact Decimals by default), or `UpstreamContractError`: the
    reference parse, and `SourceTransport.get_json`'s."""
    try:
        return json.loads(content, parse_float=parse_float)
    except (ValueError, UnicodeDecodeError) as exc:
        # The decoder's position says where it broke without quoting the body.
        where = f" ({exc.msg} at char {exc.pos})" if isinstance(exc, json.JSONDecodeError) else ""
        problem = f"returned a body that is not JSON{where}"
    except RecursionError:
        problem = "returned a body nested too deeply to read"
    except ArithmeticError:
        problem = "returned a body with a number no decimal can hold"
    raise UpstreamContractError(problem, source=source, endpoint=endpoint, status=status)


class Body(Generic[S, T]):
    """One kind of answer: its msgspec shape, the fast function over that shape, and the tolerant
    function over the plainly parsed body. Both functions take the reader first and the same
    extra arguments last (what the client knows that the body does not say)."""

    def __init__(
        self,
        shape: Any,
        fast: Callable[..., T],
        tolerant: Callable[..., T],
    ) -> None:
        self._decoder: msgspec.json.Decoder[S] = msgspec.json.Decoder(shape, float_hook=Decimal)
        self._fast = fast
        self._tolerant = tolerant

    @classmethod
    def plain(cls, tolerant: Callable[..., T]) -> Body[Any, T]:
        """A small answer: msgspec's parser, then the tolerant reads themselves."""
        return cls(Any, tolerant, tolerant)

    def decode(self, reader: JsonReader, content: bytes, status: int, *context: Any) -> T:
        """What the body says: by the fast path when it can tell, else by the reference path."""
        try:
            return self.decode_fast(reader, content, *context)
        except Unusual:
            return self.decode_tolerantly(reader, content, status, *context)

    def decode_fast(self, reader: JsonReader, content: bytes, *context: Any) -> T:
        """The fast path alone; raises `Unusual` for a body only the reference path may judge."""
        try:
            shaped = self._decoder.decode(content)
        except _UNREADABLE:
            raise Unusual from None
        return self._fast(reader, shaped, *context)

    def decode_tolerantly(
        self, reader: JsonReader, content: bytes, status: int, *context: Any
    ) -> T:
        """The reference path alone (what every client did before the fast path)."""
        body = parse_json(content, source=reader.source, endpoint=reader.endpoint, status=status)
        return self._tolerant(reader, body, *context)


def read_rows(
    reader: JsonReader,
    rows: Iterable[Row],
    where: str,
    fast: Callable[[Row], T],
    tolerant: Callable[[JsonReader, Mapping[str, Any], str], T],
) -> tuple[T, ...]:
    """Each row by `fast`, or, when it raises `Unusual`, by `tolerant` at its JSON path
    (`data[3]` for the fourth row under `where` = "data")."""
    read: list[T] = []
    for i, row in enumerate(rows):
        try:
            read.append(fast(row))
        except Unusual:
            read.append(tolerant(reader, as_mapping(row), f"{where}[{i}]"))
    return tuple(read)


def as_mapping(shaped: msgspec.Struct, *, omit: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The JSON object `shaped` was decoded from, as far as its fields go: an absent field absent,
    nested shapes objects again; fields named in `omit` (attribute names) left out."""
    found: dict[str, Any] = {}
    for name, key in _keys(type(shaped)):
        value = getattr(shaped, name)
        if value is UNSET or name in omit:
            continue
        if isinstance(value, msgspec.Struct):
            value = as_mapping(value)
        elif type(value) is list and value and isinstance(value[0], msgspec.Struct):
            value = [as_mapping(item) for item in value]  # a list of shapes holds only shapes
        found[key] = value
    return found


@cache
def _keys(shape: type[msgspec.Struct]) -> tuple[tuple[str, str], ...]:
    """(attribute name, JSON key) of each field of a shape."""
    return tuple((f.name, f.encode_name) for f in msgspec.structs.fields(shape))


def frozen_maker(cls: type[T]) -> Callable[[dict[str, Any]], T]:
    """A maker of `cls` instances (one of our dataclasses) from a dict of every one of its fields,
    defaults included.

    It does what the generated `__init__` does without its `object.__setattr__` per field, which
    a frozen dataclass pays for, several times the cost of the row itself, and an L report builds
    ~16,000 (measured: see docs/measurements.md#vendor-body-decoding). Only for classes whose
    `__init__` does nothing else.
    """
    if not dataclasses.is_dataclass(cls) or "__slots__" in vars(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass with a __dict__")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}.__init__ does more than set its fields")
    new = object.__new__
    set_dict = dict_setter(cls)

    def make(values: dict[str, Any]) -> T:
        instance = new(cls)
        set_dict(instance, values)
        return instance

    return make


def dict_setter(cls: type) -> Callable[[Any, dict[str, Any]], None]:
    """What sets the `__dict__` of a `cls` instance: the slot's own descriptor, ~40 ns cheaper
    than `object.__setattr__(instance, "__dict__", values)`, which looks it up each time."""
    for klass in cls.__mro__:
        slot = vars(klass).get("__dict__")
        if isinstance(slot, types.GetSetDescriptorType):
            setter: Callable[[Any, dict[str, Any]], None] = slot.__set__
            return setter
    raise TypeError(f"{cls.__name__} instances have no __dict__")
