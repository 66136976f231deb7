"""`Row`: the base of vendor models that are built by the thousand and carry their `problems`.

A row is a frozen msgspec Struct rather than a frozen dataclass: its C constructor sets the fields
without the dataclass's `object.__setattr__` per field and without a `__dict__` (Telzino's L
minutes report is ~16,000 models; bench/decoding.py). The result cache stores a Struct as it did
the dataclass, a MessagePack map of its fields in order (resolvers/cache/codec.py).

Equality and hash leave `problems` out, as the dataclasses' `field(compare=False)` did: a row's
problems are errors, which compare by identity, so two reads of one body would never be equal.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from operator import attrgetter
from typing import Any

import msgspec

__all__ = ["Row"]


class Row(msgspec.Struct, frozen=True):
    """A frozen model whose equality and hash are over every field but `problems`."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        values = _compared(type(self))
        return values(self) == values(other)

    def __ne__(self, other: object) -> bool:
        # msgspec's own __ne__ (inherited otherwise) compares every field, problems too
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(_compared(type(self))(self))


@cache
def _compared(cls: type[Row]) -> Callable[[Any], tuple[Any, ...]]:
    """The values of `cls`'s fields that take part in equality, as a tuple."""
    names = tuple(name for name in cls.__struct_fields__ if name != "problems")
    if len(names) < 2:  # attrgetter of one name answers the value, not a 1-tuple
        return lambda row: tuple(getattr(row, name) for name in names)
    return attrgetter(*names)
