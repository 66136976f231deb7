"""The `usagegraph` command: `serve`, `sandbox`, `export-schema`, `export-operations` and
`hash-key`.

`serve` without a config (no --config, no $USAGEGRAPH_CONFIG) starts the vendor sandbox in the
background and serves the graph over it, so `make run` works on a fresh clone with no accounts.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from usagegraph.gc_tuning import tune_for_serving
from usagegraph.observability.logs import LogFormat, configure_logging, uvicorn_log_config
from usagegraph.settings import (
    CONFIG_ENV_VAR,
    MAX_WORKERS,
    ConfigError,
    ServerSettings,
    Settings,
    load_settings,
)

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
    serve.add_argument(
        "--port", type=_port, help="port to listen on, 1-65535 (default: [server] port, 8000)"
    )
    serve.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="listen on a non-loopback host without [auth] (refused otherwise)",
    )
    serve.add_argument(
        "--workers",
        type=_worker_count,
        metavar="N",
        help=f"processes sharing the port, 1 to {MAX_WORKERS} (default: [server] workers, 1); "
        "each has its own caches and /metrics",
    )
    serve.set_defaults(command=_serve)

    hash_key = commands.add_parser(
        "hash-key",
        help="make an API key and the [[auth.keys]] entry that stores its SHA-256 hash",
        description="Without input, generate a random key; with a key on stdin "
        "(`printf %s KEY | usagegraph hash-key`), hash that one. Prints the [[auth.keys]] "
        "entry for the config on stdout; a generated key is shown once, on stderr.",
    )
    hash_key.add_argument("--name", default="my-key", help="the key's name (default: my-key)")
    hash_key.add_argument(
        "--generate", action="store_true", help="generate a key even when stdin is not a terminal"
    )
    hash_key.set_defaults(command=_hash_key)

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
    sandbox.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME",
        help="serve a shape the vendors' docs allow but the default sandbox does not, e.g. "
        "talkdesk-top-level-links or teli-down (repeatable; GET /_control/variants lists them)",
    )
    sandbox.set_defaults(command=_sandbox)

    export = commands.add_parser(
        "export-schema",
        help="print the GraphQL schema (SDL)",
        description="Print the client-facing SDL; `make schema` writes it to schema.graphql. "
        "With --federation, print the Apollo Federation v2 subgraph SDL instead.",
    )
    export.add_argument(
        "--federation",
        action="store_true",
        help="the subgraph SDL (@link, @key, _entities, _service), for composition",
    )
    export.set_defaults(command=_export_schema)

    operations = commands.add_parser(
        "export-operations",
        help="print the persisted operations manifest of .graphql files",
        description="Print an Apollo persisted query manifest (JSON) of the given .graphql "
        "files (one named operation each), each validated against the schema: the list "
        '[persisted_queries] mode = "safelist" accepts.',
    )
    operations.add_argument(
        "paths",
        nargs="*",
        type=Path,
        default=[Path("examples/operations")],
        metavar="PATH",
        help=".graphql files or folders of them (default: examples/operations)",
    )
    operations.set_defaults(command=_export_operations)
    return parser


# -- commands ------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from usagegraph.app import create_app

    environ = os.environ
    config = args.config or (Path(environ[CONFIG_ENV_VAR]) if environ.get(CONFIG_ENV_VAR) else None)
    with ExitStack() as stack:
        if config is not None:
            settings = load_settings(config, environ=environ)
            _check_listen(args, settings.server, authenticated=settings.auth is not None)
            _configure_logging(settings.server.log_level, settings.server.log_format)
            logger.info("config %s: sources %s", config, _names(settings))
        else:
            # the embedded sandbox's settings: the default [server], no [auth]
            _check_listen(args, ServerSettings(), authenticated=False)
            settings, sandbox_url, config = stack.enter_context(_embedded_sandbox())
            _configure_logging(settings.server.log_level, settings.server.log_format)
            logger.info(
                "no config given: serving on the embedded sandbox at %s (sources: %s)",
                sandbox_url,
                _names(settings),
            )
        host = args.host or settings.server.host
        _check_bind(host, settings, args)
        port = args.port if args.port is not None else settings.server.port
        # built even for workers: a config problem only the app finds (the directory file, the
        # persisted-query manifest, ...) ends here with exit 2, before any worker starts
        app = create_app(settings)
        workers = args.workers or settings.server.workers
        if workers > 1:
            from usagegraph.workers import run_workers

            del app  # each worker builds its own from `config`
            logger.info("serving from %d worker processes", workers)
            with _signals_end_quietly():
                run_workers(
                    config,
                    workers=workers,
                    host=host,
                    port=port,
                    log_level=settings.server.log_level,
                    log_format=settings.server.log_format,
                    shutdown_timeout=settings.server.shutdown_timeout_seconds,
                )
            return 0
        _run(
            app,
            host=host,
            port=port,
            log_level=settings.server.log_level,
            log_format=settings.server.log_format,
            shutdown_timeout=settings.server.shutdown_timeout_seconds,
        )
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    from usagegraph.sandbox.control import SandboxControl
    from usagegraph.sandbox.dataset import generate
    from usagegraph.sandbox.server import create_sandbox_app, free_port, sources_toml

    control = SandboxControl(base_latency_ms=args.latency_ms)
    try:
        # before serving, so a vendor that is down is down from its first request
        control.enable(*args.variant)
    except ValueError as exc:
        print(f"usagegraph sandbox: {exc}", file=sys.stderr)
        return 2
    dataset = generate(seed=args.seed, scale=args.scale)
    app = create_sandbox_app(dataset, control)
    tune_for_serving()  # the dataset is big and lives forever: keep it out of every collection
    port = args.port or free_port(args.host)
    # A wildcard bind address is not something a client can connect to.
    public_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    base_url = f"http://{_url_host(public_host)}:{port}"
    # stdout is valid TOML (the hints are comments), so it can be redirected into a config file.
    print(f"# usagegraph vendor sandbox at {base_url} (seed {args.seed}, scale {args.scale})")
    print(f"# The directory linking these sources: {base_url}/directory.toml")
    print('# (save it next to the config and add: [directory] path = "directory.toml")')
    if control.variants:
        print(f"# Variants: {', '.join(sorted(control.variants))}")
    print()
    print(sources_toml(dataset, base_url), flush=True)
    _run(app, host=args.host, port=port, log_level="info")
    return 0


def _hash_key(args: argparse.Namespace) -> int:
    from usagegraph.auth import generate_key, hash_key, is_valid_key, key_entry_toml

    generated: str | None = None
    if args.generate or sys.stdin.isatty():
        key = generated = generate_key()
    else:
        key = sys.stdin.read().strip()
        if not key:
            print(
                "usagegraph hash-key: no key on stdin; to make a new key, run "
                "`usagegraph hash-key --generate`",
                file=sys.stderr,
            )
            return 2
        if not is_valid_key(key):
            print(
                "usagegraph hash-key: the key on stdin must be one bearer token "
                "(letters, digits, -._~+/ and trailing =)",
                file=sys.stderr,
            )
            return 2
    if generated is not None:
        # stderr: the key is shown this once, and `hash-key >> config.toml` stores only the hash
        print(f"API key (shown only once, give it to the caller): {generated}", file=sys.stderr)
    sys.stdout.write(key_entry_toml(hash_key(key), name=args.name))
    return 0


def _export_schema(args: argparse.Namespace) -> int:
    from usagegraph.schema import schema

    sys.stdout.write((schema.subgraph_sdl() if args.federation else schema.as_str()) + "\n")
    return 0


def _export_operations(args: argparse.Namespace) -> int:
    import json

    from usagegraph.persisted.manifest import ManifestError, build_manifest
    from usagegraph.schema import schema
    from usagegraph.schema.compat import graphql_schema
    from usagegraph.schema.federation import client_schema

    files: list[Path] = []
    for path in args.paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.graphql")))
        elif path.is_file():
            files.append(path)
        else:
            print(f"usagegraph export-operations: {path}: no such file or folder", file=sys.stderr)
            return 2
    try:
        manifest = build_manifest(files, client_schema(graphql_schema(schema)))
    except ManifestError as exc:
        print(f"usagegraph export-operations: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(manifest, indent=2) + "\n")
    return 0


# -- helpers -------------------------------------------------------------------------------------


def _port(text: str) -> int:
    """`--port`: a TCP port a server can listen on (0 would be any free one, and say nothing)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535, not {text!r}")
    return port


def _check_listen(args: argparse.Namespace, server: ServerSettings, *, authenticated: bool) -> None:
    """Before anything starts, one line and exit 2 for an address `serve` cannot use: a public
    host without [auth] (see `_check_bind`), then a port already in use, found by binding it
    once as uvicorn will (SO_REUSEADDR) and letting it go, not uvicorn's exit 3 after
    "Application startup complete"."""
    from usagegraph.auth import bind_refusal

    host = args.host or server.host
    host_key = "--host" if args.host else "server.host"
    allow = args.allow_unauthenticated or server.allow_unauthenticated
    refusal = bind_refusal(host, authenticated=authenticated, allow_unauthenticated=allow)
    if refusal is not None:
        raise ConfigError(host_key, refusal)
    port = args.port if args.port is not None else server.port
    port_key = "--port" if args.port is not None else "server.port"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ConfigError(host_key, f"cannot listen on {host}: {exc.strerror}") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            where = f"cannot listen on {host}:{port}: {reason}"
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(port_key, f"{where} (choose another port)") from None
            if exc.errno == errno.EACCES:
                raise ConfigError(port_key, where) from None
            raise ConfigError(host_key, where) from None  # not an address of this machine


def _check_bind(host: str, settings: Settings, args: argparse.Namespace) -> None:
    """Without [auth], listen on loopback only (and say so) unless explicitly allowed."""
    from usagegraph.auth import bind_refusal, is_loopback

    allow = args.allow_unauthenticated or settings.server.allow_unauthenticated
    refusal = bind_refusal(
        host, authenticated=settings.auth is not None, allow_unauthenticated=allow
    )
    if refusal is not None:
        raise ConfigError("--host" if args.host else "server.host", refusal)
    if settings.auth is not None:
        logger.info("API keys required on /graphql: %d key(s) configured", len(settings.auth.keys))
    elif is_loopback(host):
        logger.info("no [auth] configured: listening on loopback (%s) only, without API keys", host)
    else:
        logger.warning("no [auth] configured: serving %s WITHOUT authentication", host)


@contextmanager
def _embedded_sandbox() -> Iterator[tuple[Settings, str, Path]]:
    """Start the default dataset's sandbox in a background thread; yields settings pointing at
    it (its directory file included), its base URL, and the same settings as a config file
    (what worker processes read)."""
    from usagegraph.sandbox.dataset import generate
    from usagegraph.sandbox.server import SandboxServer, sources_toml
    from usagegraph.settings import settings_from_sources

    dataset = generate()
    with tempfile.TemporaryDirectory(prefix="usagegraph-") as folder:
        directory = Path(folder) / "directory.toml"
        directory.write_text(dataset.directory_toml(), encoding="utf-8")
        with SandboxServer(dataset) as server:
            # a developer's terminal: uvicorn-style text lines rather than JSON
            settings = settings_from_sources(
                server.sources(), directory={"path": directory}, server={"log_format": "text"}
            )
            config = Path(folder) / "usagegraph.toml"
            config.write_text(
                sources_toml(dataset, server.base_url)
                + '\n[directory]\npath = "directory.toml"\n\n[server]\nlog_format = "text"\n',
                encoding="utf-8",
            )
            try:
                yield settings, server.base_url, config
            finally:
                # Both servers share uvicorn's loggers; the sandbox's shutdown is not news.
                logging.getLogger("uvicorn.error").setLevel(logging.WARNING)


def _run(
    app: Any,
    *,
    host: str,
    port: int,
    log_level: str,
    log_format: LogFormat = "text",
    shutdown_timeout: float | None = None,
) -> None:
    """Serve in the foreground until SIGINT/SIGTERM, then return normally: uvicorn stops
    accepting, lets in-flight requests finish (cancelling them after `shutdown_timeout` seconds),
    then runs the lifespan's shutdown, which closes the upstream pools."""
    # uvicorn's access log goes to stdout by default; keep stdout for the sandbox's TOML.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=uvicorn_log_config(log_format),
        # uvicorn annotates int but only hands it to asyncio.timeout, which takes float seconds
        timeout_graceful_shutdown=shutdown_timeout,  # type: ignore[arg-type]
    )
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


def _worker_count(text: str) -> int:
    """`--workers N`: a whole number from 1 to MAX_WORKERS (argparse exits 2 otherwise)."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of processes from 1 to {MAX_WORKERS}, got {text!r}"
        )
    return count


def _configure_logging(level: str, fmt: LogFormat) -> None:
    configure_logging(level, fmt, sys.stderr)


def _names(settings: Settings) -> str:
    return ", ".join(source.name for source in settings.sources)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
