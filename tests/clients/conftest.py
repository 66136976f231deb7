"""The vendor clients are tested on both event loops uvicorn may serve on.

Wherever uvloop is installed (uvicorn[standard] brings it; here the dev extra does),
`usagegraph serve` runs on it, and its transports are not asyncio's classes: the network layer
must work on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest
import uvloop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
