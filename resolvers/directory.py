"""The directory file: links one customer's ids across vendors into one node.

```toml
[[resellers]]
id = "northwind"
name = "Northwind Channel"
links = ["telzino:<reseller uuid>", "teli:<tenant_id>", "talkdesk-acme"]

[[organizations]]
id = "acme-solar"
name = "Acme Solar"
reseller = "northwind"
links = ["telzino:<org uuid>", "teli:<org unique_id>", "talkdesk-acme:<account id>"]
```
A link is `<source>` (a whole connection, resellers only) or `<source>:<native id>`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Directory", "DirectoryEntry", "DirectoryError", "Link", "load_directory"]


class DirectoryError(Exception):
    """The directory file is unreadable or names a source that is not configured."""


@dataclass(frozen=True, slots=True)
class Link:
    source: str
    native_id: str | None  # None: the whole connection

    @classmethod
    def parse(cls, text: str) -> Link:
        source, sep, native = text.partition(":")
        if not source or (sep and not native):
            raise ValueError(f"bad link {text!r}: expected '<source>' or '<source>:<id>'")
        return cls(source, native or None)

    def __str__(self) -> str:
        return self.source if self.native_id is None else f"{self.source}:{self.native_id}"


@dataclass(frozen=True)
class DirectoryEntry:
    id: str
    name: str | None
    links: tuple[Link, ...]
    reseller: str | None = None


@dataclass(frozen=True)
class Directory:
    resellers: tuple[DirectoryEntry, ...] = ()
    organizations: tuple[DirectoryEntry, ...] = ()
    _by_link: dict[Link, str] = field(default_factory=dict, compare=False, repr=False)

    def reseller_for(self, link: Link) -> str | None:
        return self._by_link.get(Link("reseller/" + link.source, link.native_id))

    def organization_for(self, link: Link) -> str | None:
        return self._by_link.get(Link("organization/" + link.source, link.native_id))


def load_directory(path: Path | None, *, sources: Collection[str]) -> Directory:
    """Parse and check a directory file; `None` gives an empty directory."""
    if path is None:
        return Directory()
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DirectoryError(f"directory {path}: {exc}") from None
    unknown_keys = set(raw) - {"resellers", "organizations"}
    if unknown_keys:
        raise DirectoryError(f"directory {path}: unknown key {sorted(unknown_keys)[0]!r}")
    resellers = tuple(_entries(raw.get("resellers", []), "resellers", path, sources))
    organizations = tuple(_entries(raw.get("organizations", []), "organizations", path, sources))
    reseller_ids = {r.id for r in resellers}
    by_link: dict[Link, str] = {}
    for kind, entries in (("reseller", resellers), ("organization", organizations)):
        for entry in entries:
            if kind == "organization" and entry.reseller and entry.reseller not in reseller_ids:
                raise DirectoryError(
                    f"directory {path}: organizations[{entry.id}].reseller "
                    f"{entry.reseller!r} is not a reseller id in the directory"
                )
            for link in entry.links:
                key = Link(f"{kind}/{link.source}", link.native_id)
                if key in by_link:
                    raise DirectoryError(
                        f"directory {path}: link {link} is claimed by both "
                        f"{by_link[key]!r} and {entry.id!r}"
                    )
                by_link[key] = entry.id
    return Directory(resellers, organizations, by_link)


def _entries(
    items: list[dict[str, object]], table: str, path: Path, sources: Collection[str]
) -> list[DirectoryEntry]:
    allowed = (
        {"id", "name", "links", "reseller"}
        if table == "organizations"
        else {
            "id",
            "name",
            "links",
        }
    )
    seen: set[str] = set()
    entries = []
    for index, item in enumerate(items):
        where = f"directory {path}: {table}[{index}]"
        extra = set(item) - allowed
        if extra:
            raise DirectoryError(f"{where}: unknown key {sorted(extra)[0]!r}")
        entry_id = item.get("id")
        if not isinstance(entry_id, str) or not entry_id:
            raise DirectoryError(f"{where}.id: required string")
        if ":" in entry_id:
            raise DirectoryError(f"{where}.id: {entry_id!r} must not contain ':'")
        if entry_id in seen:
            raise DirectoryError(f"{where}.id: duplicate id {entry_id!r}")
        seen.add(entry_id)
        listed = item.get("links", [])
        if not isinstance(listed, list):  # a bare string would be read one letter at a time
            raise DirectoryError(f"{where}.links: must be a list of strings")
        links = []
        for text in listed:
            try:
                link = Link.parse(str(text))
            except ValueError as exc:
                raise DirectoryError(f"{where}.links: {exc}") from None
            if link.source not in sources:
                raise DirectoryError(f"{where}.links: {link} names unknown source {link.source!r}")
            if link.native_id is None and table == "organizations":
                raise DirectoryError(f"{where}.links: {link} must name an id")
            links.append(link)
        name = item.get("name")
        reseller = item.get("reseller")
        entries.append(
            DirectoryEntry(
                id=entry_id,
                name=str(name) if name is not None else None,
                links=tuple(links),
                reseller=str(reseller) if reseller is not None else None,
            )
        )
    return entries
