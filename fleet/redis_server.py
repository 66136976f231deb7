"""redis-server for the fleet, on a port that stays the same across a restart (the replicas'
config names it), without persistence: a restart comes back empty, as a lost Redis would."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import redis

from fleet.processes import HOST, Child

__all__ = ["RedisServer"]


class RedisServer:
    """`start()`, `stop()` and `restart()` one redis-server on `port`."""

    def __init__(self, port: int, logs: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.port = port
        self.logs = logs
        self.child: Child | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", HOST]
        argv += ["--save", "", "--appendonly", "no"]
        self.child = Child("redis", argv, self.logs)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.exceptions.ConnectionError:
                    if not self.child.alive() or time.monotonic() > deadline:
                        raise RuntimeError(f"redis-server did not start on {self.port}") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None

    def restart(self, down_for: float = 1.0) -> None:
        """Stop, stay down `down_for` seconds, start again (empty) on the same port."""
        self.stop()
        time.sleep(down_for)
        self.start()
