"""How the result cache stores an entry: typed MessagePack (msgspec), never pickle.

An entry is the MessagePack array `[fetched_at, fresh_until, value]`. Each fetch name has one
registered value type (`values.py`), and an entry read under a key is decoded as the type of the
key's fetch name, whatever the bytes claim: msgspec builds exactly that type (our frozen
dataclasses and frozen msgspec Structs, both stored as a map of their fields; tuples, dicts,
`Decimal` from its exact string, `date` from ISO text) and checks every field against its
annotation as it goes. Nothing in the bytes can name a class, call a constructor or run code.
The one type msgspec does not know, `UpstreamContractError` (a row's `problems`), is stored as
its six fields and rebuilt by its constructor after they are checked.

The codec admits only what it can bring back exactly, checked once when it is built: no `Any`
(a tuple would come back a list), no `datetime` or `time` (msgspec's MessagePack keeps the
instant but not the UTC offset), no other custom class, no tagged Struct (a tag is there to let
the bytes pick the class) and no mutable one. Decoding also refuses what our vendor readers never
produce: a non-finite `Decimal` (NaN, sNaN, Infinity), a timestamp outside `datetime`'s range.

Whatever does not decode as the registered type (a pickle, random or truncated bytes, another
shape, an int beyond 64 bits, nesting too deep, more than `max_bytes`) raises `EntryError`; the
result cache logs and counts it and reads the key as a miss. A value that cannot be encoded
exactly is not stored: the answer is still served, only uncached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Final, Generic, Literal, TypeVar

import msgspec
import msgspec.inspect as mi

from usagegraph.clients.errors import UpstreamContractError

__all__ = ["DEFAULT_MAX_ENTRY_BYTES", "Entry", "EntryCodec", "EntryError", "Reason"]

V = TypeVar("V")

# Room for the L dataset's largest entry (Telzino's minutes report) several times over, while
# keeping what another writer leaves in the store from holding the event loop long: the densest
# entry (tiny objects) at this size decodes once, before the fresh value replaces it (measured:
# see docs/measurements.md#result-cache-entry-size).
DEFAULT_MAX_ENTRY_BYTES: Final = 8 * 1024 * 1024

# Wall-clock seconds that `datetime.fromtimestamp` can turn into a moment (up to 9999-12-31).
_MAX_TIMESTAMP: Final = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
_Moment = Annotated[float, msgspec.Meta(ge=0, le=_MAX_TIMESTAMP)]

Reason = Literal["unreadable", "oversized", "unstorable"]  # the metrics label of a failure

_Check = Callable[[Any], None]


@dataclass(frozen=True)
class Entry(Generic[V]):
    """A cached value with when it was fetched and until when it is fresh (wall-clock
    seconds: entries are shared by replicas through Redis)."""

    fetched_at: float
    fresh_until: float
    value: V


class EntryError(Exception):
    """An entry that cannot be read or stored; `reason` is its metrics label."""

    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class _ContractErrorFields(
    msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True
):
    """What an `UpstreamContractError` in a row's problems is stored as."""

    message: str
    source: str
    endpoint: str
    status: int | None
    attempts: int
    field: str | None


def _enc_hook(value: Any) -> Any:
    if type(value) is UpstreamContractError:
        return _ContractErrorFields(
            value.message, value.source, value.endpoint, value.status, value.attempts, value.field
        )
    raise NotImplementedError(f"{type(value).__name__} is not a cacheable type")


def _dec_hook(cls: type, obj: Any) -> Any:
    if cls is UpstreamContractError:
        fields = msgspec.convert(obj, _ContractErrorFields)
        return UpstreamContractError(
            fields.message,
            source=fields.source,
            endpoint=fields.endpoint,
            status=fields.status,
            attempts=fields.attempts,
            field=fields.field,
        )
    raise NotImplementedError(f"{cls.__name__} is not a cacheable type")  # refused at build


class EntryCodec:
    """Encodes and decodes entries of the fetch names in `types` (name -> value type)."""

    def __init__(
        self, types: Mapping[str, Any], *, max_bytes: int = DEFAULT_MAX_ENTRY_BYTES
    ) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self.max_bytes = max_bytes
        self._encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
        self._decoders: dict[str, msgspec.msgpack.Decoder[Any]] = {}
        self._checks: dict[str, _Check | None] = {}
        self._kinds: dict[str, type] = {}
        for name, value_type in types.items():
            info = mi.type_info(value_type)
            self._checks[name] = _finite_check(info, name)
            self._kinds[name] = _python_type(info)
            # the entry's type is built at run time around each registered value type
            entry_type = tuple[_Moment, _Moment, value_type]  # type: ignore[valid-type]
            self._decoders[name] = msgspec.msgpack.Decoder(entry_type, dec_hook=_dec_hook)

    @property
    def names(self) -> frozenset[str]:
        """The fetch names whose values this codec stores."""
        return frozenset(self._decoders)

    def encode(self, name: str, entry: Entry[Any]) -> bytes:
        """The bytes of `entry` for fetch `name`; `EntryError` when it cannot be stored."""
        if name not in self._decoders:
            raise EntryError("unstorable", f"no value type is registered for {name!r}")
        kind = self._kinds[name]
        if not isinstance(entry.value, kind):  # encoding is untyped: refuse what reads back wrong
            found = type(entry.value).__name__
            raise EntryError("unstorable", f"{name} holds {kind.__name__}, not {found}")
        try:
            raw = self._encoder.encode((entry.fetched_at, entry.fresh_until, entry.value))
        except Exception as exc:  # an unregistered class, an int beyond 64 bits...
            raise EntryError("unstorable", _short(exc)) from None
        if len(raw) > self.max_bytes:
            raise EntryError("oversized", f"{len(raw)} bytes > {self.max_bytes}")
        return raw

    def decode(self, name: str, raw: bytes) -> Entry[Any]:
        """The entry `raw` holds, as fetch `name`'s registered type; `EntryError` otherwise."""
        decoder = self._decoders.get(name)
        if decoder is None:
            raise EntryError("unreadable", f"no value type is registered for {name!r}")
        if len(raw) > self.max_bytes:
            raise EntryError("oversized", f"{len(raw)} bytes > {self.max_bytes}")
        try:
            fetched_at, fresh_until, value = decoder.decode(raw)
            check = self._checks[name]
            if check is not None:
                check(value)
        except Exception as exc:  # whatever hostile bytes make go wrong is a miss, never a crash
            raise EntryError("unreadable", _short(exc)) from None
        return Entry(fetched_at, fresh_until, value)


def _short(exc: BaseException) -> str:
    """A failure for the log: its type and the start of msgspec's message (a JSON path and
    the expected type, never the value)."""
    text = str(exc).splitlines()[0][:160] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- what a registered type may hold --------------------------------------------------------------

_EXACT_LEAVES = (
    mi.NoneType,
    mi.BoolType,
    mi.IntType,  # MessagePack holds 64 bits; a larger int fails to encode (not stored)
    mi.FloatType,
    mi.StrType,
    mi.DateType,
    mi.LiteralType,
)


def _finite_check(info: mi.Type, name: str, seen: frozenset[type] = frozenset()) -> _Check | None:
    """A function that raises ValueError when a value of `info` holds a non-finite Decimal
    (None when it cannot hold a Decimal at all); TypeError for a type the codec refuses."""
    if isinstance(info, _EXACT_LEAVES):
        return None
    if isinstance(info, mi.DecimalType):
        return _finite_decimal
    if isinstance(info, mi.UnionType):
        branches = []
        for member in info.types:
            check = _finite_check(member, name, seen)
            if check is not None:
                branches.append((_python_type(member), check))
        return _union_check(tuple(branches)) if branches else None
    if isinstance(info, mi.VarTupleType | mi.ListType | mi.FrozenSetType):
        item = _finite_check(info.item_type, name, seen)
        return None if item is None else _items_check(item)
    if isinstance(info, mi.TupleType):
        positions = tuple(
            (i, check)
            for i, member in enumerate(info.item_types)
            if (check := _finite_check(member, name, seen)) is not None
        )
        return _positions_check(positions) if positions else None
    if isinstance(info, mi.DictType):
        if not isinstance(info.key_type, mi.StrType | mi.IntType):
            raise TypeError(f"{name}: cached mappings are keyed by str or int")
        values = _finite_check(info.value_type, name, seen)
        return None if values is None else _values_check(values)
    if isinstance(info, mi.StructType) and (refused := _struct_refused(info)):
        raise TypeError(f"{name}: {refused}")
    if isinstance(info, mi.DataclassType | mi.StructType):
        if info.cls in seen:
            raise TypeError(f"{name}: {info.cls.__name__} is recursive")
        inner = seen | {info.cls}
        # a row's `Decimal | None` amounts, the hot case, are checked without a call per field
        amounts = tuple(f.name for f in info.fields if _is_amount(f.type))
        others = tuple(
            (f.name, check)
            for f in info.fields
            if f.name not in amounts and (check := _finite_check(f.type, name, inner)) is not None
        )
        return _fields_check(amounts, others) if amounts or others else None
    if isinstance(info, mi.CustomType) and info.cls is UpstreamContractError:
        return None
    raise TypeError(
        f"{name}: {type(info).__name__} does not round-trip exactly through the cache "
        "(register only dataclasses or frozen untagged msgspec Structs of str, int, float, "
        "bool, Decimal, date, tuples, dicts and UpstreamContractError)"
    )


def _python_type(info: mi.Type) -> type:
    """The Python class (or classes' common base) a value of `info` is an instance of."""
    if isinstance(info, mi.UnionType):
        return object  # checked member by member when it is decoded
    if isinstance(info, mi.NoneType):
        return type(None)
    if isinstance(info, mi.BoolType):
        return bool
    if isinstance(info, mi.IntType):
        return int
    if isinstance(info, mi.FloatType):
        return float
    if isinstance(info, mi.StrType):
        return str
    if isinstance(info, mi.DateType):
        return date
    if isinstance(info, mi.DecimalType):
        return Decimal
    if isinstance(info, mi.DataclassType | mi.StructType | mi.CustomType):
        return info.cls
    if isinstance(info, mi.VarTupleType | mi.TupleType):
        return tuple
    if isinstance(info, mi.ListType):
        return list
    if isinstance(info, mi.FrozenSetType):
        return frozenset
    if isinstance(info, mi.DictType):
        return dict
    return object  # a literal


def _struct_refused(info: mi.StructType) -> str | None:
    """Why a Struct cannot be cached (None when it can): a tag would let the bytes choose among
    classes, and a mutable Struct could be changed by one request under another's feet."""
    if info.tag is not None or info.tag_field is not None:
        return f"{info.cls.__name__} is tagged"
    if not info.cls.__struct_config__.frozen:
        return f"{info.cls.__name__} is not frozen"
    return None


def _finite_decimal(value: Decimal) -> None:
    if not value.is_finite():
        raise ValueError("a Decimal is not finite")


def _union_check(branches: tuple[tuple[type, _Check], ...]) -> _Check:
    def check(value: Any) -> None:
        for cls, inner in branches:
            if isinstance(value, cls):
                inner(value)
                return

    return check


def _items_check(item: _Check) -> _Check:
    def check(value: Any) -> None:
        for x in value:
            item(x)

    return check


def _positions_check(positions: tuple[tuple[int, _Check], ...]) -> _Check:
    def check(value: Any) -> None:
        for i, inner in positions:
            inner(value[i])

    return check


def _values_check(values: _Check) -> _Check:
    def check(value: Any) -> None:
        for x in value.values():
            values(x)

    return check


def _fields_check(amounts: tuple[str, ...], others: tuple[tuple[str, _Check], ...]) -> _Check:
    def check(value: Any) -> None:
        for field in amounts:
            amount = getattr(value, field)
            if amount is not None and not amount.is_finite():
                raise ValueError(f"{field} is not finite")
        for field, inner in others:
            inner(getattr(value, field))

    return check


def _is_amount(info: mi.Type) -> bool:
    """`Decimal` or `Decimal | None`."""
    if isinstance(info, mi.UnionType):
        members = info.types
        return len(members) == 2 and {type(m) for m in members} == {mi.DecimalType, mi.NoneType}
    return isinstance(info, mi.DecimalType)
