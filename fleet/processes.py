"""Child processes of the fleet: started with their output in a log file, waited for until they
answer, and stopped (SIGINT, then SIGKILL) or killed outright (`kill`: a crash on purpose)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

__all__ = ["HOST", "Child", "free_port"]

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Child:
    """One process of the fleet, its stdout and stderr in `<logs>/<name>.log`."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        logs: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log = logs / f"{name}.log"
        with self.log.open("ab") as out:
            # a file, not a pipe: nobody reads the output while the fleet runs
            self.popen = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                # its own process group: a Ctrl-C in `make fleet` reaches the runner only, which
                # then stops each child in order
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_until_answering(self, url: str, timeout: float = 60.0) -> None:
        """Poll `url` until it answers 2xx; RuntimeError (with the log's end) when the process
        exits or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(url, timeout=2).is_success:
                    return
            except httpx.TransportError:
                pass
            if not self.alive() or time.monotonic() > deadline:
                tail = self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
                raise RuntimeError(f"{self.name} did not answer {url}:\n{tail}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown, requests in flight are cut (what a crashed replica does)."""
        if self.alive():
            self.popen.kill()
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGINT (every process here shuts down cleanly on it), SIGKILL after `timeout`."""
        if self.alive():
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
