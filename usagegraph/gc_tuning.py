"""Garbage-collector settings for a long-running server process (`serve`, `sandbox`)."""

from __future__ import annotations

import gc

__all__ = ["tune_for_serving"]


def tune_for_serving() -> None:
    """Freeze what start-up built, so full collections never walk it again, and collect the
    young generation every 10,000 allocations instead of 700.

    Full collections walked every imported module (and, in the sandbox, the whole dataset) on
    top of a request's promoted objects: 100-200 ms each at M. A large dashboard allocates
    hundreds of thousands of containers that die with the request; at CPython's 700 they were
    traversed again and again on their way to the old generation (~100 ms of an L dashboard,
    ~50 with 10,000). The older generations keep CPython's ratios (10 / 10) so full collections
    stay regular: with 50,000 / 20 / 20 the soak's RSS climbed from 154 to 274 MB; with this it
    plateaus (about 60 MB above the defaults) and stays flat (docs/performance.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
