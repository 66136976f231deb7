"""Imports go downward only: the vendor clients and the telemetry every layer feeds load
without the GraphQL layers or the app above them."""

from __future__ import annotations

import subprocess
import sys

ABOVE_THE_CLIENTS = (
    "strawberry",
    "fastapi",
    "usagegraph.app",
    "usagegraph.protocol",
    "usagegraph.observability",
    "usagegraph.schema",
    "usagegraph.resolvers",
)


def loaded_by(module: str) -> list[str]:
    """Every module a fresh interpreter has loaded after importing `module`."""
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    run = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    return run.stdout.split()


def test_the_clients_load_nothing_above_them() -> None:
    loaded = loaded_by("usagegraph.clients.telzino, usagegraph.clients.talkdesk")
    assert [m for m in loaded if m.startswith(ABOVE_THE_CLIENTS)] == []


def test_telemetry_loads_nothing_of_the_project() -> None:
    loaded = loaded_by("usagegraph.telemetry")
    assert [m for m in loaded if m.startswith("usagegraph")] == [
        "usagegraph",
        "usagegraph.telemetry",
    ]
