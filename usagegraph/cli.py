"""The `usagegraph` command: `serve`, `sandbox` and `export-schema`.

`serve` without a config (no --config, no $USAGEGRAPH_CONFIG) starts the vendor sandbox in the
background and serves the graph over it, so `make run` works on a fresh clone with no accounts.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import DefaultFormatter

from usagegraph.settings import CONFIG_ENV_VAR, ConfigError, Settings, load_settings

__all__ = ["build_parser", "main"]

logger = logging.getLogger("usagegraph")

SANDBOX_PORT = 9000


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code (2 for usage and config errors)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return exc.code if isinstance(exc.code, int) else 2
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="usagegraph",
        description="One GraphQL API over the usage and billing reports of Telzino, Teli and "
        "Talkdesk.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="serve the GraphQL API (on the embedded sandbox when no config is given)",
        description="Serve the GraphQL API at /graphql (GraphiQL in a browser). Without --config "
        f"and without ${CONFIG_ENV_VAR}, an embedded vendor sandbox is started and served.",
    )
    serve.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help=f"the TOML config file (default: ${CONFIG_ENV_VAR}, else the embedded sandbox)",
    )
    serve.add_argument("--host", help="interface to listen on (default: [server] host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: [server] port, 8000)")
    serve.set_defaults(command=_serve)

    sandbox = commands.add_parser(
        "sandbox",
        help="run the vendor emulators (Telzino, Teli, Talkdesk) in the foreground",
        description="Run the vendor sandbox: every emulator on one port, each under its own "
        "mount, plus GET / (the sources as config), /directory.toml and the /_control API. "
        "Prints ready-to-use [[sources]] entries on start-up.",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    sandbox.add_argument(
        "--port", type=int, default=SANDBOX_PORT, help=f"port (default: {SANDBOX_PORT})"
    )
    sandbox.add_argument("--seed", type=int, default=7, help="dataset seed (default: 7)")
    sandbox.add_argument(
        "--scale", choices=("S", "M", "L"), default="S", help="dataset size (default: S)"
    )
    sandbox.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        metavar="N",
        help="added to every vendor request, in milliseconds (default: 0)",
    )
    sandbox.set_defaults(command=_sandbox)

    export = commands.add_parser(
        "export-schema",
        help="print the GraphQL schema (SDL)",
        description="Print the schema's SDL; `make schema` writes it to schema.graphql.",
    )
    export.set_defaults(command=_export_schema)
    return parser


# -- commands ------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from usagegraph.app import create_app

    environ = os.environ
    config = args.config or (Path(environ[CONFIG_ENV_VAR]) if environ.get(CONFIG_ENV_VAR) else None)
    with ExitStack() as stack:
        if config is not None:
            settings = load_settings(config, environ=environ)
            _configure_logging(settings.server.log_level)
            logger.info("config %s: sources %s", config, _names(settings))
        else:
            settings, sandbox_url = stack.enter_context(_embedded_sandbox())
            _configure_logging(settings.server.log_level)
            logger.info(
                "no config given: serving on the embedded sandbox at %s (sources: %s)",
                sandbox_url,
                _names(settings),
            )
        host = args.host or settings.server.host
        port = args.port if args.port is not None else settings.server.port
        app = create_app(settings)
        _run(app, host=host, port=port, log_level=settings.server.log_level)
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    from sandbox.control import SandboxControl
    from sandbox.dataset import generate
    from sandbox.server import create_sandbox_app, free_port, sources_toml

    dataset = generate(seed=args.seed, scale=args.scale)
    app = create_sandbox_app(dataset, SandboxControl(base_latency_ms=args.latency_ms))
    port = args.port or free_port(args.host)
    # A wildcard bind address is not something a client can connect to.
    public_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    base_url = f"http://{_url_host(public_host)}:{port}"
    # stdout is valid TOML (the hints are comments), so it can be redirected into a config file.
    print(f"# usagegraph vendor sandbox at {base_url} (seed {args.seed}, scale {args.scale})")
    print(f"# The directory linking these sources: {base_url}/directory.toml")
    print('# (save it next to the config and add: [directory] path = "directory.toml")')
    print()
    print(sources_toml(dataset, base_url), flush=True)
    _run(app, host=args.host, port=port, log_level="info")
    return 0


def _export_schema(args: argparse.Namespace) -> int:
    from schema import schema

    sys.stdout.write(schema.as_str() + "\n")
    return 0


# -- helpers -------------------------------------------------------------------------------------


@contextmanager
def _embedded_sandbox() -> Iterator[tuple[Settings, str]]:
    """Start the default dataset's sandbox in a background thread; yields settings pointing at
    it (its directory file included) and its base URL."""
    from sandbox.dataset import generate
    from sandbox.server import SandboxServer
    from usagegraph.settings import settings_from_sources

    dataset = generate()
    with tempfile.TemporaryDirectory(prefix="usagegraph-") as folder:
        directory = Path(folder) / "directory.toml"
        directory.write_text(dataset.directory_toml(), encoding="utf-8")
        with SandboxServer(dataset) as server:
            settings = settings_from_sources(server.sources(), directory={"path": directory})
            try:
                yield settings, server.base_url
            finally:
                # Both servers share uvicorn's loggers; the sandbox's shutdown is not news.
                logging.getLogger("uvicorn.error").setLevel(logging.WARNING)


def _run(app: Any, *, host: str, port: int, log_level: str) -> None:
    """Serve in the foreground until SIGINT/SIGTERM, then return normally."""
    # uvicorn's access log goes to stdout by default; keep stdout for the sandbox's TOML.
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, log_config=log_config)
    server = uvicorn.Server(config)
    with _signals_end_quietly():
        server.run()


@contextmanager
def _signals_end_quietly() -> Iterator[None]:
    """uvicorn shuts down gracefully on SIGINT/SIGTERM and then re-raises the signal with the
    previous handler; a no-op handler there lets `main` clean up (the embedded sandbox, temp
    files) and exit 0 instead of dying by the signal or printing a KeyboardInterrupt traceback."""

    def ignore(signum: int, frame: FrameType | None) -> None:
        return None

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, ignore) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


def _names(settings: Settings) -> str:
    return ", ".join(source.name for source in settings.sources)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
