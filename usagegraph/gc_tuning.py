"""Garbage-collector settings for a long-running server process (`serve`, `sandbox`)."""

from __future__ import annotations

import gc

__all__ = ["tune_for_serving"]


def tune_for_serving() -> None:
    """Freeze what start-up built, so full collections never walk it again, and collect the
    young generation every 50,000 allocations instead of 700.

    Full collections walked every imported module (and, in the sandbox, the whole dataset) on
    top of a request's promoted objects. A large dashboard allocates hundreds of thousands of
    containers that die with the request; at CPython's 700 they were traversed again and again
    on their way to the old generation, and a higher threshold cut that sharply. A high
    threshold only costs memory when requests leave cyclic garbage, and they leave little since
    what an operation loaded is released when it ends (schema/release.py): `make bench-soak`
    holds RSS flat (measured: see docs/measurements.md#garbage-collector-tuning). The older
    generations keep CPython's ratios (10 / 10) so full collections stay regular.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)
