"""A real `redis-server` for the cache tests, and `cache_config`: each cache test's `[cache]`
section, once with the memory backend and once with Redis.

The server is started once per session on a free loopback port, with persistence off
(`--save '' --appendonly no`), and flushed before each test that uses it. Without the binary the
Redis variants are skipped, saying how to get it (CI installs it: see .ci/run).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

REDIS_SERVER = shutil.which("redis-server")
NO_REDIS = "redis-server is not installed (apt-get install redis-server); Redis cache tests skipped"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def _redis_server() -> Iterator[str]:
    if REDIS_SERVER is None:
        pytest.skip(NO_REDIS)
    import redis

    port = _free_port()
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.02)
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def redis_url(_redis_server: str) -> str:
    """The session's Redis, emptied for this test."""
    import redis

    client = redis.Redis.from_url(_redis_server)
    try:
        client.flushdb()
    finally:
        client.close()
    return _redis_server


@pytest.fixture(params=["memory", "redis"])
def cache_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The `[cache]` keys choosing the backend under test."""
    if request.param == "memory":
        return {}
    return {"backend": "redis", "url": request.getfixturevalue("redis_url")}
