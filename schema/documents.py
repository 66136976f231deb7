"""Parses each distinct operation text once, keeping the document for the next request.

Dashboards send the same few operations again and again. Parsing the benchmark's mixed query
takes a few milliseconds, and its tokens form a doubly linked list: every parse left ~1,500
objects that only a collection of the older generations frees.

The cache is bounded by its texts' total length too (`max_chars`), not only by their number:
a document keeps about 1.7 objects per character alive, and every full collection of the
garbage collector walks them all, holding every thread: many long documents make each full
collection take a large part of a second (measured: see docs/measurements.md#parsed-document-cache).
A text longer than an eighth of the budget is never kept (it is parsed again each time).

Strawberry's own `ParserCache` parses inside the extension hook, so a syntax error raised there
skips the operation's error handling and loses its `extensions.code`. Here a short text not
seen before is parsed by Strawberry as usual (errors included); only a document that parsed is
kept. A long text (schema/offload.py) is parsed on a worker thread instead, so that no text
holds the event loop: when it does not parse, a stand-in document (`{ __typename }`) goes on,
its syntax error already set as the operation's error, which then leaves the usual way
(schema/validation.py checks nothing else).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension

from usagegraph.schema.offload import INLINE_CHARS, off_loop

__all__ = ["DOCUMENT_CACHE_CHARS", "document_cache"]

# 256 operations of 500 characters: a full collection stays short with them all kept
# (measured: see docs/measurements.md#parsed-document-cache)
DOCUMENT_CACHE_CHARS = 128 * 1024

_Key = tuple[str, tuple[tuple[str, Any], ...]]

# stands in for a long text that did not parse: never executed, its error is answered instead
_STAND_IN = parse("{ __typename }")


class _Documents:
    """The shared LRU: at most `maxsize` documents whose texts total at most `max_chars`."""

    def __init__(self, maxsize: int, max_chars: int) -> None:
        self.maxsize = maxsize
        self.max_chars = max_chars
        self.chars = 0
        self.entries: OrderedDict[_Key, DocumentNode] = OrderedDict()

    def get(self, key: _Key) -> DocumentNode | None:
        document = self.entries.get(key)
        if document is not None:
            self.entries.move_to_end(key)
        return document

    def put(self, key: _Key, document: DocumentNode) -> None:
        if key in self.entries or len(key[0]) * 8 > self.max_chars:
            return
        self.entries[key] = document
        self.chars += len(key[0])
        while len(self.entries) > self.maxsize or self.chars > self.max_chars:
            (text, _), _ = self.entries.popitem(last=False)
            self.chars -= len(text)


class _DocumentCache(SchemaExtension):
    def __init__(self, documents: _Documents) -> None:
        super().__init__()
        self._documents = documents

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.query is None or context.graphql_document is not None:
            yield
            return
        # the parser's options (the token limit) are part of the key: a text that parsed
        # under one limit says nothing about another
        key = (context.query, tuple(sorted(context.parse_options.items())))
        document = self._documents.get(key)
        if document is not None:
            context.graphql_document = document
            yield
            return
        if len(context.query) > INLINE_CHARS:
            try:
                context.graphql_document = await off_loop(
                    context.query, parse, context.query, **context.parse_options
                )
            except GraphQLError as error:
                context.graphql_document = _STAND_IN
                context.pre_execution_errors = [error]
                yield
                return
        yield
        if context.graphql_document is not None:
            self._documents.put(key, context.graphql_document)


def document_cache(
    maxsize: int, max_chars: int = DOCUMENT_CACHE_CHARS
) -> Callable[[], SchemaExtension]:
    """An extension factory sharing one LRU of at most `maxsize` parsed documents, whose texts
    total at most `max_chars` characters."""
    documents = _Documents(maxsize, max_chars)
    return lambda: _DocumentCache(documents)
