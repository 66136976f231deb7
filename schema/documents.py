"""Parses each distinct operation text once, keeping the document for the next request.

Dashboards send the same few operations again and again. Parsing the benchmark's mixed query
takes a few milliseconds, and its tokens form a doubly linked list: every parse left ~1,500
objects that only a collection of the older generations frees.

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

from schema.offload import INLINE_CHARS, off_loop

__all__ = ["document_cache"]

_Key = tuple[str, tuple[tuple[str, Any], ...]]

# stands in for a long text that did not parse: never executed, its error is answered instead
_STAND_IN = parse("{ __typename }")


class _DocumentCache(SchemaExtension):
    def __init__(self, documents: OrderedDict[_Key, DocumentNode], maxsize: int) -> None:
        super().__init__()
        self._documents = documents
        self._maxsize = maxsize

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
            self._documents.move_to_end(key)
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
            self._documents[key] = context.graphql_document
            if len(self._documents) > self._maxsize:
                self._documents.popitem(last=False)


def document_cache(maxsize: int) -> Callable[[], SchemaExtension]:
    """An extension factory sharing one LRU of at most `maxsize` parsed documents."""
    documents: OrderedDict[_Key, DocumentNode] = OrderedDict()
    return lambda: _DocumentCache(documents, maxsize)
