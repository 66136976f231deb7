"""Garbage-collector settings for a long-running server process (`serve`, `sandbox`)."""

from __future__ import annotations

import gc

__all__ = ["SERVING_THRESHOLDS", "tune_for_serving"]

# A young collection every 50,000 net allocations instead of 700; older generations as often
# relative to it as CPython's defaults make them (10 and 10) would be too rare to bound memory
# held by cycles, so 20 and 20.
SERVING_THRESHOLDS = (50_000, 20, 20)


def tune_for_serving() -> None:
    """Freeze what start-up built and collect young objects far less often.

    One request decodes tens of thousands of short-lived objects (vendor JSON rows, GraphQL
    results). With CPython's default threshold they outlive dozens of young collections, get
    promoted, and the full collections that follow walk them together with every imported
    module: measured on the L dashboard, ~0.4 s of a 1.3 s request. Reference counting frees
    almost all of them anyway; the collector is only needed for cycles, which it still finds.
    Freezing moves the start-up heap (modules, schema, the sandbox's dataset) out of every
    future collection.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLDS)
