"""Strawberry's camelCase conversion, computed once per name instead of on every call."""

from __future__ import annotations

from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter

__all__ = ["CachedNameConverter", "schema_config"]


class CachedNameConverter(NameConverter):
    """Strawberry converts every argument's and input field's name while resolving (a `usage`
    on each of 2,000 organizations converts `range`, `firstDay`, ... 8,000 times); the answer
    never changes, so it is remembered."""

    def __init__(self, auto_camel_case: bool = True) -> None:
        super().__init__(auto_camel_case)
        self._names: dict[str, str] = {}

    def apply_naming_config(self, name: str) -> str:
        converted = self._names.get(name)
        if converted is None:
            converted = self._names[name] = super().apply_naming_config(name)
        return converted


def schema_config() -> StrawberryConfig:
    return StrawberryConfig(name_converter=CachedNameConverter())
