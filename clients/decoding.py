"""Typed reads from a vendor's decoded JSON that fail with `UpstreamContractError` and a JSON path.

A client makes one `JsonReader(source, endpoint)` per answer it decodes. Every read names its
field as `(obj, key, path)`: the object holding it, its key and that object's own JSON path ("" for
the body), so a failure's `field` reads like `data[3].agents[0].voice_minutes` and its text like
"telzino: GET /v1/billing-report answered a body that breaks the contract: data[3].agent_count is
a string, expected a count". Required reads refuse a missing or null field; the `*_or_none` reads
answer None for both. Numbers are expected the way the transport decodes them with
`parse_float=Decimal`: ints and Decimals (a float can only be NaN or Infinity by then).

Reads come in three strengths, by what the field feeds (docs/vendors.md, "Read tolerantly"):
- required (`text`, `number`, ...): the row cannot be attributed without it (an id); a bad value
  fails the whole answer;
- soft (`soft_number`, `soft_integer`, `soft_count`): the field feeds a figure; a missing, null or
  mistyped value answers None and records its `UpstreamContractError` in the row's `Problems`
  under the field's key, so only the figures it feeds are nulled (with that error), not the row;
- labels (`label`): a text that feeds no figure (a description, a name); anything but a string
  is None, and nothing fails.

Every scalar read first tries the well-formed case with one exact type check and returns at once;
only a value that fails it takes the general path, which builds the field's JSON path and the
error. A large report is a few hundred thousand reads, so the happy path must not format strings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, TypeVar

from usagegraph.clients.errors import UpstreamContractError

__all__ = [
    "NO_PROBLEMS",
    "JsonReader",
    "Problems",
    "RowProblems",
    "join_path",
    "kind_of",
    "moment_of",
]

T = TypeVar("T")

_MISSING: Final = object()

# A row's unusable fields while it is read: its key (the JSON key, or a name for a nested one)
# -> why. A decoded row keeps them as `RowProblems`, immutable pairs (none on a well-formed row).
Problems = dict[str, UpstreamContractError]
RowProblems = tuple[tuple[str, UpstreamContractError], ...]
NO_PROBLEMS: Final[RowProblems] = ()


def join_path(path: str, key: str | int) -> str:
    """The JSON path of `key` in the value at `path` ("" is the body): `a.b`, `b`, `a[0]`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def kind_of(value: Any) -> str:
    """What a decoded JSON value is, for a message: "null", "a boolean", "a number", ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | Decimal | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def moment_of(value: Any) -> datetime | None:
    """`value` as `JsonReader.moment` reads a timestamp that feeds no figure."""
    if type(value) is not str:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _integral(value: Any) -> Any:
    """An integral Decimal (3.0) as the int it stands for; some encoders write counts that way."""
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return value


class JsonReader:
    """Reads typed fields out of one endpoint's decoded JSON answer."""

    def __init__(self, source: str, endpoint: str) -> None:
        self.source = source
        self.endpoint = endpoint

    def fail(self, path: str, problem: str) -> UpstreamContractError:
        """The error for the value at `path` ("" is the body); `problem` completes "<path> ..."."""
        return UpstreamContractError(
            f"answered a body that breaks the contract: {path or 'body'} {problem}",
            source=self.source,
            endpoint=self.endpoint,
            status=200,
            field=path or None,
        )

    # -- structure ---------------------------------------------------------------------------

    def obj(self, value: Any, path: str) -> Mapping[str, Any]:
        """`value` (found at `path`) as a JSON object."""
        if not isinstance(value, Mapping):
            raise self.fail(path, f"is {kind_of(value)}, expected an object")
        return value

    def get(self, obj: Mapping[str, Any], key: str, path: str) -> Any:
        """A required field of any type: neither missing nor null."""
        value = obj.get(key, _MISSING)
        if value is _MISSING or value is None:
            raise self.fail(join_path(path, key), "is missing" if value is _MISSING else "is null")
        return value

    def get_or_none(self, obj: Mapping[str, Any], key: str, path: str) -> Any:
        """An optional field of any type; None when missing or null (`path` only for symmetry)."""
        return obj.get(key)

    def child(self, obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        """A required object field."""
        return self.obj(self.get(obj, key, path), join_path(path, key))

    def array(self, obj: Mapping[str, Any], key: str, path: str) -> list[Any]:
        """A required array field."""
        value = self.get(obj, key, path)
        if not isinstance(value, list):
            raise self.fail(join_path(path, key), f"is {kind_of(value)}, expected an array")
        return value

    def objects(
        self, obj: Mapping[str, Any], key: str, path: str
    ) -> list[tuple[str, Mapping[str, Any]]]:
        """The objects of a required array field, each with its own path (`data[3]`)."""
        where = join_path(path, key)
        items = self.array(obj, key, path)
        found: list[tuple[str, Mapping[str, Any]]] = []
        for i, item in enumerate(items):
            at = f"{where}[{i}]"
            found.append((at, item if type(item) is dict else self.obj(item, at)))
        return found

    # -- scalars -----------------------------------------------------------------------------

    def text(self, obj: Mapping[str, Any], key: str, path: str) -> str:
        """A required string."""
        value = obj.get(key)
        if type(value) is str:  # the hot path: no path string built unless the read fails
            return value
        return self._required(obj, key, path, self._text)

    def text_or_none(self, obj: Mapping[str, Any], key: str, path: str) -> str | None:
        """An optional string."""
        value = obj.get(key)
        if value is None or type(value) is str:
            return value
        return self._optional(obj, key, path, self._text)

    def flag(self, obj: Mapping[str, Any], key: str, path: str) -> bool:
        """A required boolean."""
        value = obj.get(key)
        if type(value) is bool:
            return value
        return self._required(obj, key, path, self._flag)

    def flag_or_none(self, obj: Mapping[str, Any], key: str, path: str) -> bool | None:
        """An optional boolean."""
        value = obj.get(key)
        if value is None or type(value) is bool:
            return value
        return self._optional(obj, key, path, self._flag)

    def count(self, obj: Mapping[str, Any], key: str, path: str) -> int:
        """A non-negative integer (an integral Decimal such as 3.0 counts)."""
        value = obj.get(key)
        if type(value) is int and value >= 0:
            return value
        return self._required(obj, key, path, self._count)

    def count_or_none(self, obj: Mapping[str, Any], key: str, path: str) -> int | None:
        """An optional `count`."""
        value = obj.get(key)
        if value is None or (type(value) is int and value >= 0):
            return value
        return self._optional(obj, key, path, self._count)

    def integer(self, obj: Mapping[str, Any], key: str, path: str) -> int:
        """Any integer (an integral Decimal such as 120.0 counts)."""
        value = obj.get(key)
        if type(value) is int:
            return value
        return self._required(obj, key, path, self._integer)

    def integer_or_none(self, obj: Mapping[str, Any], key: str, path: str) -> int | None:
        """An optional `integer`."""
        value = obj.get(key)
        if value is None or type(value) is int:
            return value
        return self._optional(obj, key, path, self._integer)

    def number(self, obj: Mapping[str, Any], key: str, path: str) -> Decimal:
        """A finite number as an exact Decimal (money, minutes); a boolean is no number."""
        value = obj.get(key)
        if type(value) is Decimal and value.is_finite():
            return value
        return self._required(obj, key, path, self._number)

    def number_or_none(self, obj: Mapping[str, Any], key: str, path: str) -> Decimal | None:
        """An optional `number`."""
        value = obj.get(key)
        if value is None or (type(value) is Decimal and value.is_finite()):
            return value
        return self._optional(obj, key, path, self._number)

    # -- soft reads: a bad value is recorded in `problems` and read as None -------------------

    def soft_number(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        problems: Problems,
        name: str | None = None,
    ) -> Decimal | None:
        """A `number` that feeds a figure; None, and a problem under `name` (default: `key`),
        when it is missing, null or mistyped."""
        value = obj.get(key)
        if type(value) is Decimal and value.is_finite():
            return value
        return self._soft(obj, key, path, problems, name, self._number)

    def soft_integer(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        problems: Problems,
        name: str | None = None,
    ) -> int | None:
        """A soft `integer` (see `soft_number`)."""
        value = obj.get(key)
        if type(value) is int:
            return value
        return self._soft(obj, key, path, problems, name, self._integer)

    def soft_count(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        problems: Problems,
        name: str | None = None,
    ) -> int | None:
        """A soft `count` (see `soft_number`)."""
        value = obj.get(key)
        if type(value) is int and value >= 0:
            return value
        return self._soft(obj, key, path, problems, name, self._count)

    def soft_child(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        problems: Problems,
        name: str | None = None,
    ) -> Mapping[str, Any]:
        """An object that holds figures; when it is missing or not an object, an empty one and a
        problem under `name` (default: `key`), so each figure read from it is then a problem too."""
        value = obj.get(key)
        if type(value) is dict:
            return value
        try:
            return self.child(obj, key, path)
        except UpstreamContractError as error:
            problems.setdefault(name or key, error)  # the first says most (a missing parent)
            return {}

    @staticmethod
    def label(obj: Mapping[str, Any], key: str) -> str | None:
        """A text that feeds no figure: the string, or None for anything else."""
        value = obj.get(key)
        return value if type(value) is str else None

    @staticmethod
    def moment(obj: Mapping[str, Any], key: str) -> datetime | None:
        """A timestamp that feeds no figure: an ISO-8601 one (UTC when it has no offset), or
        None for anything else."""
        return moment_of(obj.get(key))

    def timestamp_or_none(self, obj: Mapping[str, Any], key: str, path: str) -> datetime | None:
        """An ISO-8601 timestamp; vendors send some without an offset, which means UTC."""
        return self._optional(obj, key, path, self._timestamp)

    # -- conversions: each takes a present, non-null value and the path it was found at --------

    def _required(
        self, obj: Mapping[str, Any], key: str, path: str, convert: Callable[[Any, str], T]
    ) -> T:
        return convert(self.get(obj, key, path), join_path(path, key))

    def _optional(
        self, obj: Mapping[str, Any], key: str, path: str, convert: Callable[[Any, str], T]
    ) -> T | None:
        value = self.get_or_none(obj, key, path)
        return None if value is None else convert(value, join_path(path, key))

    def _soft(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        problems: Problems,
        name: str | None,
        convert: Callable[[Any, str], T],
    ) -> T | None:
        try:
            return self._required(obj, key, path, convert)
        except UpstreamContractError as error:
            problems.setdefault(name or key, error)  # the first says most (a missing parent)
            return None

    def _text(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"is {kind_of(value)}, expected a string")
        return value

    def _flag(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"is {kind_of(value)}, expected a boolean")
        return value

    def _count(self, value: Any, path: str) -> int:
        value = _integral(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(path, f"is {kind_of(value)}, expected a count")
        return value

    def _integer(self, value: Any, path: str) -> int:
        value = _integral(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"is {kind_of(value)}, expected an integer")
        return value

    def _number(self, value: Any, path: str) -> Decimal:
        # parse_float=Decimal leaves floats only for NaN/Infinity; any other float is refused
        # too, as converting it could not be exact
        if isinstance(value, float | Decimal) and not Decimal(value).is_finite():
            raise self.fail(path, "is not a finite number")
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise self.fail(path, f"is {kind_of(value)}, expected a number")
        return Decimal(value)

    def _timestamp(self, value: Any, path: str) -> datetime:
        try:
            moment = datetime.fromisoformat(self._text(value, path))
        except ValueError:
            raise self.fail(path, "is not an ISO-8601 timestamp") from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
