"""Opaque connection cursors: an item's key (sort value and id) in the ordering that gave it.

A cursor is base64url (unpadded) of a small JSON array `[version, fingerprint, value, id]`.
The fingerprint is a short hash of everything that decides the order and the items (the
list's type, the ordering, its range and currency, the filter): a cursor only means something
under the ordering that minted it, so one used under another is refused (BAD_USER_INPUT)
instead of silently starting somewhere else. Nothing is secret in a cursor (a name, a figure,
an id the caller has already seen), so it is validated, not signed. Whatever does not decode
to exactly that shape is refused the same way, naming the argument, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from usagegraph.resolvers.errors import BadUserInput
from usagegraph.resolvers.paging import Key, SortValue

__all__ = ["MAX_CURSOR_LENGTH", "BadArgument", "decode_cursor", "encode_cursor", "fingerprint"]

VERSION = 1
MAX_CURSOR_LENGTH = 512  # a key is a name (at most a few hundred bytes) and an id
_NUMBER_FIELDS = frozenset({"voice_seconds", "sms_segments"})


class BadArgument(BadUserInput):
    """A refused argument, named in `extensions.argument` (the checks before execution add
    where it is as well)."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        self.argument = argument

    @property
    def extensions(self) -> dict[str, Any]:
        return {**super().extensions, "argument": self.argument}


def fingerprint(*parts: object) -> str:
    """A short, stable hash of what decides a list's order and items."""
    text = json.dumps([str(p) for p in parts], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def encode_cursor(mark: str, key: Key) -> str:
    value, node_id = key
    shown = str(value) if isinstance(value, Decimal) else value
    text = json.dumps([VERSION, mark, shown, node_id], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode("ascii")


def decode_cursor(argument: str, cursor: str, mark: str, field: str) -> Key:
    """The key in `cursor`, which must have been minted under `mark` for an ordering by
    `field`; else a BadArgument naming `argument`."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadArgument(argument, f"{argument} is not a cursor of this list (too long)")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw.decode())
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError included
        raise BadArgument(argument, f"{argument} is not a cursor of this list") from None
    if not (isinstance(decoded, list) and len(decoded) == 4 and decoded[0] == VERSION):
        raise BadArgument(argument, f"{argument} is not a cursor of this list")
    _, minted, value, node_id = decoded
    if minted != mark:
        raise BadArgument(
            argument,
            f"{argument} is a cursor of another ordering or filter: page again from the start",
        )
    key_value = _sort_value(value, field)
    if key_value is None or not isinstance(node_id, str):
        raise BadArgument(argument, f"{argument} is not a cursor of this list")
    return key_value, node_id


def _sort_value(value: object, field: str) -> SortValue | None:
    if field == "name":
        return value if isinstance(value, str) else None
    if field in _NUMBER_FIELDS:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if not isinstance(value, str):
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None
