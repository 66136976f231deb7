"""Identical operations executed once, and whole answers served again while fresh.

`install_answers(app, settings, schema)` adds the layer (usagegraph/answers/layer.py) in front
of the GraphQL router; `build_answer_store(settings, backend)` makes the store the lifespan
keeps in `app.state.answer_store` (None when `[cache] answers` or `[cache] enabled` is off:
then identical concurrent requests are still coalesced, nothing is kept).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from fastapi import FastAPI

from usagegraph.answers.key import DocumentPrints
from usagegraph.answers.layer import AnswerLayer, Outcome
from usagegraph.answers.store import AnswerStore, MemoryAnswers, RedisAnswers, StoredAnswer
from usagegraph.observability import Observability
from usagegraph.resolvers.cache import CacheBackend
from usagegraph.settings import Settings

__all__ = [
    "AnswerLayer",
    "AnswerStore",
    "MemoryAnswers",
    "Outcome",
    "RedisAnswers",
    "StoredAnswer",
    "answers_fingerprint",
    "build_answer_store",
    "install_answers",
]


def build_answer_store(
    settings: Settings, backend: CacheBackend, clock: Callable[[], float]
) -> AnswerStore | None:
    """The store of `settings` over `backend`, or None when nothing is kept. `clock` is the
    result cache's (epoch seconds): an answer expires on the clock its fetches expire on."""
    cache = settings.cache
    if not (cache.enabled and cache.answers) or settings.graph.naive_loaders:
        return None
    if cache.backend == "redis":
        return RedisAnswers(backend, cache.answer_max_entry_bytes, clock=clock)
    return MemoryAnswers(cache.answer_max_bytes, cache.answer_max_entry_bytes, clock=clock)


def answers_fingerprint(settings: Settings, schema_sdl: str) -> str:
    """What, besides the request, shapes an answer: the schema, the sources, the directory and
    the graph's limits. Replicas sharing Redis share answers only when all of these agree."""
    directory = settings.directory.path.read_bytes() if settings.directory else b""
    parts = (
        schema_sdl,
        ",".join(f"{s.name}={s.kind}" for s in settings.sources),
        settings.graph.model_dump_json(),
        settings.limits.model_dump_json(),
    )
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8"))
    digest.update(directory)
    return digest.hexdigest()[:24]


def install_answers(
    app: FastAPI, settings: Settings, schema_sdl: str, observability: Observability
) -> None:
    """Add the answer layer: before `install_request_check`, so it runs inside it (on the
    checked request, after the gate and the persisted-query lookup)."""

    def store() -> AnswerStore | None:
        found: AnswerStore | None = getattr(app.state, "answer_store", None)
        return found

    def usage() -> tuple[int, int] | None:
        found = store()
        return found.usage() if found is not None else None

    def clock() -> float:
        # the result cache's clock when there is one (tests move it), so answers and the
        # fetches they were built on expire together
        graph = getattr(app.state, "graph", None)
        cache = getattr(graph, "cache", None)
        return cache.clock() if cache is not None else time.time()

    metrics = observability.metrics
    metrics.watch_answers(usage)
    app.add_middleware(
        AnswerLayer,
        store=store,
        prints=DocumentPrints(max_tokens=settings.limits.max_tokens),
        schema_print=answers_fingerprint(settings, schema_sdl),
        default_identity=lambda: app.state.default_identity,
        debug=observability.debug,
        on_outcome=metrics.record_answer,
        clock=clock,
    )
