"""What makes two requests the same operation: the key of coalescing and of the answer cache.

Two requests get one answer when they send the same document (compared as parsed and printed,
so spacing and comments do not matter), the same operation name, the same variables (compared
as canonical JSON), accept the same media type, and come from the same scope: the resellers the
caller's key may see and its roles. Two keys with the same scope see the same answer; a key
scoped to other resellers never does. The schema's fingerprint is part of every key, so
replicas of another release sharing Redis never serve each other's answers.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError

from usagegraph.persisted.manifest import normalize
from usagegraph.resolvers.scope import Identity

__all__ = ["DocumentPrints", "Operation", "answer_key", "scope_of"]


@dataclass(frozen=True)
class Operation:
    """The parts of one GraphQL request that decide its answer."""

    query: str
    operation_name: str | None
    variables: Mapping[str, Any] | None

    @classmethod
    def of(cls, data: object) -> Operation | None:
        """From a checked request (usagegraph/protocol.py); None when it is not one."""
        if not isinstance(data, Mapping):
            return None
        query, name, variables = data.get("query"), data.get("operationName"), data.get("variables")
        if not isinstance(query, str) or not query:
            return None
        if name is not None and not isinstance(name, str):
            return None
        if variables is not None and not isinstance(variables, Mapping):
            return None
        return cls(query, name, variables)


class DocumentPrints:
    """The SHA-256 of each document's printed form, by its text: a dashboard's few documents
    are parsed here once, not per request. A document longer than `max_parsed` characters is
    keyed by its text as sent (parsing it here would hold the event loop; the router parses it
    off the loop): identical texts still share. A document that does not parse has no print
    (the request is then answered by the router, which says why)."""

    def __init__(
        self, max_documents: int = 512, max_tokens: int | None = None, max_parsed: int = 8192
    ) -> None:
        self.max_documents = max_documents
        self.max_tokens = max_tokens
        self.max_parsed = max_parsed
        self._prints: OrderedDict[str, str | None] = OrderedDict()

    def of(self, document: str) -> str | None:
        if document in self._prints:
            self._prints.move_to_end(document)
            return self._prints[document]
        if len(document) > self.max_parsed:
            return "text:" + hashlib.sha256(document.encode("utf-8")).hexdigest()
        try:
            printed = normalize(document, max_tokens=self.max_tokens)
        except (GraphQLError, RecursionError):
            digest = None
        else:
            digest = hashlib.sha256(printed.encode("utf-8")).hexdigest()
        self._prints[document] = digest
        if len(self._prints) > self.max_documents:
            self._prints.popitem(last=False)
        return digest


def scope_of(identity: Identity) -> str:
    """The part of the caller that can change an answer: its reseller scope and roles."""
    resellers = "*" if identity.resellers is None else ",".join(sorted(identity.resellers))
    return f"{resellers}|{','.join(sorted(identity.roles))}"


def answer_key(
    operation: Operation, document_print: str, *, scope: str, media: str, schema: str
) -> str | None:
    """One request's key, or None when its variables cannot be compared (not JSON)."""
    try:
        variables = json.dumps(
            operation.variables or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    except (TypeError, ValueError, RecursionError):
        return None
    parts = (schema, document_print, operation.operation_name or "", variables, scope, media)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
