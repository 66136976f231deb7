"""`usagegraph serve --workers N`: N server processes accepting on one listening socket.

uvicorn binds the socket in the parent and spawns N fresh interpreters that accept on it. A
spawned process cannot be handed the parent's app object, so each one builds its own from the
config file $USAGEGRAPH_CONFIG names (the parent points it at the file it already validated).
Each worker has its own lifespan (upstream pools, discovery, caches, in-flight coalescing), its
own garbage-collector tuning and its own /metrics registry: a scrape is answered by whichever
worker accepts it, and `usagegraph_process_info{pid}` says which one that was.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from usagegraph.observability.logs import LogFormat, configure_logging, uvicorn_log_config
from usagegraph.settings import CONFIG_ENV_VAR, load_settings

__all__ = ["WORKER_APP", "run_workers", "worker_app"]

# the factory each worker imports and calls (uvicorn needs an import string to spawn workers)
WORKER_APP = "usagegraph.workers:worker_app"


def worker_app() -> FastAPI:
    """One worker's app: the settings of the file $USAGEGRAPH_CONFIG names and the same logging
    as a single-process `serve`."""
    from usagegraph.app import create_app

    settings = load_settings(Path(os.environ[CONFIG_ENV_VAR]))
    configure_logging(settings.server.log_level, settings.server.log_format, sys.stderr)
    # each worker's heap is its own: the app tunes its collector at the worker's lifespan start-up
    return create_app(settings)


def run_workers(
    config: Path,
    *,
    workers: int,
    host: str,
    port: int,
    log_level: str,
    log_format: LogFormat,
    shutdown_timeout: float | None,
) -> None:
    """Serve `config` from `workers` processes until SIGINT/SIGTERM; the parent then stops
    every worker (each finishes its in-flight requests within `shutdown_timeout` seconds)."""
    with _environment(CONFIG_ENV_VAR, str(config.resolve())):
        uvicorn.run(
            WORKER_APP,
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level=log_level,
            log_config=uvicorn_log_config(log_format),
            # uvicorn annotates int but only hands it to asyncio.timeout, which takes float seconds
            timeout_graceful_shutdown=shutdown_timeout,  # type: ignore[arg-type]
        )


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """`name=value` for the processes spawned inside the block (they copy the environment)."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous
