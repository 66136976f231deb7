"""The safelist's manifest: Apollo's persisted query manifest, built, read and checked.

`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "name",
"type", "body"}]}` where `id` is the SHA-256 of `body`, so the ids are also the APQ hashes of
those bodies (the body printed like graphql-js's `print(document)`, which is what JavaScript
clients hash). `build_manifest` writes one (`usagegraph export-operations`), `Manifest.load`
reads one for `[persisted_queries] manifest`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, parse, validate

from usagegraph.printing import print_document

__all__ = [
    "MANIFEST_FORMAT",
    "Manifest",
    "ManifestError",
    "build_manifest",
    "normalize",
    "sha256_hex",
]

MANIFEST_FORMAT = "apollo-persisted-query-manifest"


def sha256_hex(text: str) -> str:
    """The SHA-256 of `text` (UTF-8) in lowercase hex: Apollo's `sha256Hash`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize(document: str, *, max_tokens: int | None = None) -> str:
    """`document` parsed and printed as graphql-js 16's `print()` does (usagegraph/printing.py):
    no comments, canonical spacing. Raises GraphQLError when it does not parse (or has more
    than `max_tokens` tokens)."""
    return print_document(parse(document, no_location=True, max_tokens=max_tokens))


class ManifestError(ValueError):
    """A manifest file or an operation file that cannot be used; `str()` says why."""


@dataclass(frozen=True)
class Manifest:
    """The allowed operations: id (SHA-256 of the body) -> normalized body."""

    operations: Mapping[str, str]

    def body(self, sha256: str) -> str | None:
        return self.operations.get(sha256.lower())

    def allows(self, query: str, *, max_tokens: int | None = None) -> bool:
        """Whether `query` is one of the operations, as sent or once normalized."""
        if sha256_hex(query) in self.operations:
            return True
        try:
            return sha256_hex(normalize(query, max_tokens=max_tokens)) in self.operations
        except GraphQLError:
            return False

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read an Apollo persisted query manifest; every id must be its body's SHA-256."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{path}: cannot read the manifest: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise ManifestError(f"{path}: not an {MANIFEST_FORMAT} (see export-operations)")
        operations: dict[str, str] = {}
        for index, entry in enumerate(data.get("operations") or ()):
            body = entry.get("body") if isinstance(entry, dict) else None
            ident = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(body, str) or not isinstance(ident, str):
                raise ManifestError(f"{path}: operations[{index}] needs a string id and body")
            if sha256_hex(body) != ident.lower():
                raise ManifestError(
                    f"{path}: operations[{index}].id is not the SHA-256 of its body"
                )
            operations[ident.lower()] = body
        return cls(operations)


def build_manifest(files: Iterable[Path], schema: GraphQLSchema | None = None) -> dict[str, Any]:
    """The manifest of `.graphql` files (one named operation each, with any fragments it uses),
    in name order; each validated against `schema` when given."""
    entries: list[dict[str, str]] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            document = parse(text, no_location=True)
        except GraphQLError as exc:
            raise ManifestError(f"{path}: {exc.message}") from None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or operations[0].name is None:
            raise ManifestError(f"{path}: expected exactly one named operation")
        if schema is not None and (errors := validate(schema, document)):
            raise ManifestError(f"{path}: {errors[0].message}")
        body = print_document(document)
        entries.append(
            {
                "id": sha256_hex(body),
                "name": operations[0].name.value,
                "type": operations[0].operation.value,
                "body": body,
            }
        )
    entries.sort(key=lambda e: e["name"])
    names = [e["name"] for e in entries]
    if len(set(names)) != len(names):
        raise ManifestError(f"two operations share a name: {sorted(names)}")
    return {"format": MANIFEST_FORMAT, "version": 1, "operations": entries}
