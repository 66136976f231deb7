"""JSON from callers, decoded within bounds: UTF-8 only, nesting and number length limited.

`json.loads` alone lets a caller choose how the server fails: a body nested a few thousand deep
raises RecursionError, an integer of more than 4,300 digits a ValueError, a body that is not
UTF-8 a UnicodeDecodeError, `NaN`, `Infinity` and `1e999` pass as floats, and an escaped lone
surrogate (`"\\ud800"`) decodes into a string that later fails to encode. `loads_bounded` turns
each of them into `JsonRefused`, whose text is safe to show the caller. Nesting is bounded twice:
the C decoder's own recursion guard stops a pathological depth cheaply, and a level-by-level
walk of the result (no recursion) enforces `max_depth`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["DEFAULT_MAX_DEPTH", "MAX_NUMBER_LENGTH", "JsonRefused", "json_depth", "loads_bounded"]

# A GraphQL request nests a few levels (variables holding input objects, extensions holding
# persistedQuery): 32 is generous and still far below the interpreter's recursion limit.
DEFAULT_MAX_DEPTH = 32
# Characters in one JSON number: a 64-bit integer has 20, a double needs at most ~25.
MAX_NUMBER_LENGTH = 100
# an escaped UTF-16 surrogate: the only way a lone one gets into a decoded string
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JsonRefused(ValueError):
    """JSON a caller sent that we do not decode; `str()` says why, for the caller."""


def _too_long(text: str) -> JsonRefused:
    return JsonRefused(f"a JSON number is longer than {MAX_NUMBER_LENGTH} characters")


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_LENGTH:
        raise _too_long(text)
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_LENGTH:
        raise _too_long(text)
    value = float(text)
    if not math.isfinite(value):
        raise JsonRefused(f"the JSON number {text} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not JSON")


def _children(item: object) -> Iterator[object]:
    if isinstance(item, dict):
        return iter(item.values())
    if isinstance(item, list):
        return iter(item)
    return iter(())


def json_depth(value: object, *, limit: int) -> int:
    """How deep `value` nests (a scalar is 0, `[]` is 1), counted up to `limit + 1` at most:
    level by level, so a deep value costs no recursion."""
    depth = 0
    level = [value] if isinstance(value, dict | list) else []
    while level and depth <= limit:
        depth += 1
        level = [
            child for item in level for child in _children(item) if isinstance(child, dict | list)
        ]
    return depth


def _strings(value: object) -> Iterator[str]:
    """Every string in `value`, keys included (iterative)."""
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from item.keys()
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def loads_bounded(data: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """`data` decoded as JSON, or `JsonRefused`: not UTF-8, not JSON, nested deeper than
    `max_depth`, a number longer than MAX_NUMBER_LENGTH characters or not finite (NaN,
    Infinity, 1e999), or a string holding an unpaired UTF-16 surrogate."""
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRefused("the body is not UTF-8") from None
    else:
        text = data
    try:
        value = json.loads(
            text,
            parse_int=_bounded_int,
            parse_float=_bounded_float,
            parse_constant=_no_constant,
        )
    except JsonRefused:
        raise
    except RecursionError:
        raise JsonRefused(f"JSON nested deeper than {max_depth} levels") from None
    except json.JSONDecodeError as exc:
        raise JsonRefused(f"invalid JSON: {exc.msg} at character {exc.pos}") from None
    except ValueError:  # e.g. int() of a digit string past the interpreter's limit
        raise JsonRefused("invalid JSON number") from None
    if json_depth(value, limit=max_depth) > max_depth:
        raise JsonRefused(f"JSON nested deeper than {max_depth} levels")
    if _SURROGATE_ESCAPE.search(text):  # rare: pairs (emoji) are fine, lone halves are not
        for string in _strings(value):
            try:
                string.encode("utf-8")
            except UnicodeEncodeError:
                raise JsonRefused("a JSON string holds an unpaired UTF-16 surrogate") from None
    return value
