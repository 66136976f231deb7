"""Logging for `usagegraph serve`: one JSON object per line, or uvicorn's text lines for dev.

JSON lines carry `ts`, `level`, `logger`, `message`, the current `request_id` (from the request
context, so upstream lines, the operation line and the masked-error line of one request share
it) and any `extra=` fields, e.g. the operation line's `operation`, `duration_ms` and
`upstream_calls`. Everything goes to stderr: stdout stays free for `usagegraph sandbox`'s TOML.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any, Literal

from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import DefaultFormatter

from usagegraph.telemetry import current_request_id

__all__ = ["JsonFormatter", "LogFormat", "configure_logging", "uvicorn_log_config"]

LogFormat = Literal["json", "text"]

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured copy of the message
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            payload["request_id"] = request_id
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            payload.update(_access_fields(record.args))
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in payload:
                payload[key] = value
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exc_info"] = record.exc_text
        return json.dumps(payload, default=str, ensure_ascii=False)


def _access_fields(args: tuple[object, ...]) -> dict[str, Any]:
    # uvicorn's access record: (client address, method, path with query, HTTP version, status)
    if len(args) != 5:
        return {}
    client, method, path, version, status = args
    return {
        "client": client,
        "method": method,
        "path": path,
        "http_version": version,
        "status": status,
    }


def _formatter(fmt: LogFormat) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    return DefaultFormatter("%(levelprefix)s %(message)s")


def configure_logging(level: str, fmt: LogFormat, stream: IO[str] | None = None) -> None:
    """Send the `usagegraph` loggers to `stream` (stderr) at `level`, in `fmt`."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(_formatter(fmt))
    logger = logging.getLogger("usagegraph")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


def uvicorn_log_config(fmt: LogFormat) -> dict[str, Any]:
    """uvicorn's `log_config`: its own text config with the access log moved to stderr, or JSON
    lines for uvicorn's loggers and for any other library's warnings (the root logger)."""
    if fmt == "text":
        config = copy.deepcopy(LOGGING_CONFIG)
        config["handlers"]["access"]["stream"] = "ext://sys.stderr"
        return config
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["json"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["json"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["json"], "level": "WARNING"},
    }
