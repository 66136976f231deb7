"""Typed configuration: one frozen `Settings` object loaded from a TOML file.

The file lists the vendor connections (`[[sources]]`, one per OAuth client or API key) plus the
optional sections of `Settings` (`[server]`, `[graph]`, `[directory]`, `[auth]` with API keys
stored as SHA-256 hashes, `[limits]`, `[cache]`, ...). Every string value may reference
environment variables as `${VAR}` (`$${` writes a literal `${`), so secrets stay out of the file.
Any problem becomes a `ConfigError` whose text is one line naming the key path, e.g.
`config error: sources[2].token_url: not a valid http(s) URL`.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from usagegraph.clients import teli

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_REQUEST_DEADLINE",
    "MAX_WORKERS",
    "ApiKeySettings",
    "AuthSettings",
    "CacheSettings",
    "ConfigError",
    "DirectorySettings",
    "GraphSettings",
    "LimitsSettings",
    "ObservabilitySettings",
    "PersistedQueriesSettings",
    "ServerSettings",
    "Settings",
    "Source",
    "TalkdeskSource",
    "TeliSource",
    "TelzinoSource",
    "load_settings",
    "settings_from_sources",
]

# Names the config file when `usagegraph serve` gets no --config.
CONFIG_ENV_VAR = "USAGEGRAPH_CONFIG"

SOURCE_KINDS = ("telzino", "teli", "talkdesk")

# seconds one GraphQL operation may wait on the vendors when [graph] does not say
DEFAULT_REQUEST_DEADLINE = 20.0

# `serve --workers` / [server] workers: more processes than this is a typo, not a deployment
MAX_WORKERS = 64


class ConfigError(Exception):
    """A configuration problem; `str()` is the one line to show the user."""

    def __init__(self, key: str | None, problem: str) -> None:
        self.key = key
        self.problem = problem
        where = f"{key}: " if key else ""
        super().__init__(f"config error: {where}{problem}")


# -- field types ---------------------------------------------------------------------------------


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("http_url", "not a valid http(s) URL")
    return value


def _check_name(value: str) -> str:
    # Names appear in directory links (`<source>:<id>`) and log lines: keep them plain.
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
        raise PydanticCustomError(
            "source_name", "must be letters, digits, '-', '_' or '.' (no spaces or ':')"
        )
    return value


def _check_sha256(value: str) -> str:
    if not re.fullmatch(r"[0-9A-Fa-f]{64}", value):
        raise PydanticCustomError(
            "sha256_hex", "must be a SHA-256 hash: 64 hex digits (see `usagegraph hash-key`)"
        )
    return value.lower()


HttpURL = Annotated[str, AfterValidator(_check_url)]
SourceName = Annotated[str, AfterValidator(_check_name)]
NonEmpty = Annotated[str, Field(min_length=1)]
Secret = Annotated[SecretStr, Field(min_length=1)]
Seconds = Annotated[float, Field(gt=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- sources -------------------------------------------------------------------------------------


class _SourceBase(_Model):
    """Keys every source has: its name and the per-source HTTP tuning."""

    name: SourceName
    timeout_connect: Seconds = 3.0
    timeout_read: Seconds = 15.0
    timeout_total: Seconds = 30.0  # one call including retries and back-off
    max_concurrency: Annotated[int, Field(ge=1)] = 8
    max_attempts: Annotated[int, Field(ge=1)] = 4
    # our own limits, so bursts of dashboards never trip the vendor's 429 or hammer an outage
    rate_limit_per_second: Annotated[float, Field(gt=0)] = 20.0
    rate_limit_burst: Annotated[int, Field(ge=1)] = 40
    breaker_failures: Annotated[int, Field(ge=1)] = 5
    breaker_cooldown_seconds: Seconds = 30.0


class TelzinoSource(_SourceBase):
    """A Telzino account: reports on api.telzino.com, billing on dashboard.telzino.com."""

    kind: Literal["telzino"]
    reports_url: HttpURL
    billing_url: HttpURL
    token_url: HttpURL
    client_id: NonEmpty
    client_secret: Secret
    audience: NonEmpty = "https://api.telzino.com/"


class TeliSource(_SourceBase):
    """One Teli partner tenant, reached with its API key.

    Teli serves `analytics/usage` from its partner proxy and everything else from its API host
    (seeds 002, 003). Both default to the documented hosts; a `base_url` given alone serves both
    (as the sandbox does), and `usage_url` then only moves the usage endpoint.
    """

    kind: Literal["teli"]
    base_url: HttpURL | None = None
    usage_url: HttpURL | None = None
    api_key: Secret

    @property
    def api_host(self) -> str:
        return self.base_url or teli.DEFAULT_BASE_URL

    @property
    def usage_host(self) -> str:
        if self.usage_url is not None:
            return self.usage_url
        return self.base_url or teli.DEFAULT_USAGE_URL


class TalkdeskSource(_SourceBase):
    """One Talkdesk organization: one OAuth client that sees all of its accounts."""

    kind: Literal["talkdesk"]
    base_url: HttpURL
    token_url: HttpURL
    client_id: NonEmpty
    client_secret: Secret
    scope: NonEmpty = "express-accounts-usage:read express-accounts:read"


Source = Annotated[TelzinoSource | TeliSource | TalkdeskSource, Field(discriminator="kind")]


# -- sections ------------------------------------------------------------------------------------


class ServerSettings(_Model):
    """`[server]`: where `usagegraph serve` listens."""

    host: NonEmpty = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    graphiql: bool = True
    console: bool = True  # the usage console at GET /console
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    # production switches: introspection off, and serving without [auth] beyond loopback
    introspection: bool = True
    allow_unauthenticated: bool = False
    # JSON lines for production; the embedded sandbox (no config) logs uvicorn-style text
    log_format: Literal["json", "text"] = "json"
    # adds extensions.upstream (every upstream call) to responses; never for scoped keys
    debug: bool = False
    # on SIGTERM/SIGINT: how long in-flight requests may still run before they are cancelled
    shutdown_timeout_seconds: Annotated[float, Field(ge=0)] = 10.0
    # processes sharing the port (`serve --workers`); each has its own caches and metrics
    workers: Annotated[int, Field(ge=1, le=MAX_WORKERS)] = 1
    # the serving process's collector tuned once its start-up completes (usagegraph/gc_tuning.py)
    gc_tuning: bool = True


class GraphSettings(_Model):
    """`[graph]`: limits and caches of the GraphQL layer."""

    max_range_days: Annotated[int, Field(ge=1)] = 366
    discovery_ttl_seconds: Annotated[float, Field(ge=0)] = 300
    # Benchmark only: one upstream call per key, no priming, no batching (the N+1 baseline).
    naive_loaders: bool = False
    # upstream calls one GraphQL operation may make per source; fields past it are null
    max_upstream_calls_per_source: Annotated[int, Field(ge=1)] = 500
    # how long one operation may wait on the vendors, discovery included; past it the fields
    # still missing are null with UPSTREAM_TIMEOUT (one call never gets more than its source's
    # own timeout_total either). Absent: 20 s, or the longest timeout_total when that is less
    # (see Settings.request_deadline)
    request_deadline_seconds: Seconds | None = None
    # a connection's page (`first:` / `last:`): the largest one may ask, and the page without
    # either (the query-cost limit counts a page as this many items)
    max_page_size: Annotated[int, Field(ge=1, le=10_000)] = 100
    default_page_size: Annotated[int, Field(ge=1)] = 20

    @field_validator("default_page_size")
    @classmethod
    def _default_page_fits(cls, value: int, info: ValidationInfo) -> int:
        largest = info.data.get("max_page_size")
        if largest is not None and value > largest:
            raise PydanticCustomError(
                "page_size_over_max",
                "must not exceed max_page_size ({largest})",
                {"largest": largest},
            )
        return value


class ObservabilitySettings(_Model):
    """`[observability]`: readiness, metrics and tracing."""

    # /readyz wants a successful call to each source at most this long ago
    ready_window_seconds: Seconds = 300.0
    # how long /readyz waits for the discovery it starts for idle or never-called sources
    ready_probe_timeout_seconds: Seconds = 5.0
    metrics: bool = True  # serve GET /metrics
    tracing: bool = False  # OpenTelemetry spans; needs the `otel` extra
    # /readyz's details and /metrics name every source (and its last error): with [auth], only
    # an API key with the "operator" role sees them, unless these say the endpoint is private
    # (e.g. reachable only inside the cluster). Without [auth] everyone sees them, as every
    # caller may then run the `sources` query anyway.
    readyz_details: bool = False
    metrics_public: bool = False


class DirectorySettings(_Model):
    """`[directory]`: the file linking resellers and organizations across sources."""

    path: Path

    @field_validator("path")
    @classmethod
    def _exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise PydanticCustomError(
                "file_missing", "file not found: {path}", {"path": str(value)}
            )
        return value


class ApiKeySettings(_Model):
    """One `[[auth.keys]]` entry: a caller's key, stored only as its SHA-256 hash."""

    name: NonEmpty
    sha256: Annotated[str, AfterValidator(_check_sha256)]
    # reseller ids (directory ids or `<source>:<id>` / `<source>`); absent: every reseller
    resellers: tuple[NonEmpty, ...] | None = None
    # what else the key may do: "operator" (health details, `sources`), "federation" (the
    # gateway: `_service`, even with introspection off)
    roles: tuple[Literal["operator", "federation"], ...] = ()

    @field_validator("resellers")
    @classmethod
    def _not_empty(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise PydanticCustomError(
                "empty_scope", "must list at least one reseller id (leave it out for all)"
            )
        return value


class AuthSettings(_Model):
    """`[auth]`: the API keys callers send as `Authorization: Bearer <key>`."""

    keys: tuple[ApiKeySettings, ...]

    @field_validator("keys")
    @classmethod
    def _distinct(cls, keys: tuple[ApiKeySettings, ...]) -> tuple[ApiKeySettings, ...]:
        if not keys:
            raise PydanticCustomError("no_keys", "at least one [[auth.keys]] entry is required")
        for attribute in ("name", "sha256"):
            seen: set[str] = set()
            for key in keys:
                value = getattr(key, attribute)
                if value in seen:
                    raise PydanticCustomError(
                        "duplicate_key",
                        "two keys have the same {attribute} ({value})",
                        {"attribute": attribute, "value": value if attribute == "name" else "…"},
                    )
                seen.add(value)
        return keys


class LimitsSettings(_Model):
    """`[limits]`: what one request may ask, and how often a caller may ask."""

    max_depth: Annotated[int, Field(ge=1)] = 12
    max_aliases: Annotated[int, Field(ge=0)] = 30
    # estimated work of one operation (schema/analysis.py: values answered, 10 per vendor
    # field, lists multiplied by their size); the example operations estimate at most ~100,000
    max_cost: Annotated[int, Field(ge=1)] = 1_000_000
    max_tokens: Annotated[int, Field(ge=1)] = 2000
    max_body_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024
    # per API key (per client IP without [auth]); 0 turns the rate limit off
    requests_per_second: Annotated[float, Field(ge=0)] = 20.0
    burst: Annotated[int, Field(ge=1)] = 100
    # upstream calls per key (per client address without [auth]) and source, refilled evenly
    # over the minute; past it that key's fields needing the source are UPSTREAM_QUOTA_EXCEEDED.
    # 0 turns it off
    upstream_calls_per_minute: Annotated[int, Field(ge=0)] = 600


def _check_redis_url(value: SecretStr | None) -> SecretStr | None:
    if value is not None:
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise PydanticCustomError("redis_url", "must be a redis://, rediss:// or unix:// URL")
    return value


class CacheSettings(_Model):
    """`[cache]`: the cross-request cache of upstream results (see docs/caching.md)."""

    enabled: bool = True
    backend: Literal["memory", "redis"] = "memory"
    # redis only, e.g. "redis://:${REDIS_PASSWORD}@redis:6379/0"; a secret (it may hold one)
    url: Annotated[SecretStr | None, AfterValidator(_check_redis_url)] = Field(
        default=None, validate_default=True
    )
    max_entries: Annotated[int, Field(ge=1)] = 10_000  # memory only: the LRU's bound
    # one entry's encoded size, both backends: a larger value is served but not stored, and a
    # larger entry found in the store is a miss (the L dataset's largest fits several times:
    # docs/measurements.md#result-cache-entry-size)
    max_entry_bytes: Annotated[int, Field(ge=1024)] = 8 * 1024 * 1024
    ttl_past_seconds: Annotated[float, Field(ge=0)] = 3600  # a range wholly before today (UTC)
    ttl_live_seconds: Annotated[float, Field(ge=0)] = 60  # a range with today, lifetime counters
    # absent: [graph] discovery_ttl_seconds
    ttl_discovery_seconds: Annotated[float, Field(ge=0)] | None = None
    # how long past its TTL an entry may still stand in for a failing source (marked stale)
    stale_seconds: Annotated[float, Field(ge=0)] = 86400
    # redis only: how long a replica that died while fetching for the fleet keeps the others
    # waiting before one of them fetches instead (a living holder renews its lease)
    lease_seconds: Annotated[float, Field(gt=0, le=300)] = 5
    # whole answers kept while everything they read is fresh (usagegraph/answers); identical
    # concurrent requests are coalesced whatever this says
    answers: bool = True
    # memory only: all kept answers' bytes together (least recently used evicted first)
    answer_max_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024 * 1024
    # one answer's size, both backends: a larger answer is sent but not kept
    answer_max_entry_bytes: Annotated[int, Field(ge=1024)] = 8 * 1024 * 1024
    # redis only: the vendors' rate limits and circuit breakers and the per-caller limits are
    # the fleet's, kept in Redis for every replica (false: each replica keeps its own)
    shared_limits: bool = True

    @field_validator("url")
    @classmethod
    def _url_matches_backend(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        backend = info.data.get("backend")
        if backend == "redis" and value is None:
            raise PydanticCustomError("redis_url_missing", 'backend = "redis" needs a url')
        if backend == "memory" and value is not None:
            raise PydanticCustomError("redis_url_unused", 'only used with backend = "redis"')
        return value

    @field_validator("shared_limits")
    @classmethod
    def _shared_needs_redis(cls, value: bool, info: ValidationInfo) -> bool:
        # only a value written in the file is checked: the default stands for either backend
        if info.data.get("backend") == "memory":
            raise PydanticCustomError("shared_limits_unused", 'only used with backend = "redis"')
        return value


class PersistedQueriesSettings(_Model):
    """`[persisted_queries]`: automatic persisted queries, or only the operations of a manifest
    (see usagegraph/persisted/ and docs/persisted-queries.md)."""

    # apq: Apollo's automatic persisted queries; safelist: only the manifest's operations run;
    # off: hashes are answered PERSISTED_QUERY_NOT_SUPPORTED (clients then send full queries)
    mode: Literal["apq", "safelist", "off"] = "apq"
    # an Apollo persisted query manifest (`usagegraph export-operations`); required for safelist,
    # optional for apq (its operations are then known by hash from the start)
    manifest: Path | None = Field(default=None, validate_default=True)
    ttl_seconds: Annotated[float, Field(gt=0)] = 86400.0  # how long a registered query is kept
    # the in-process store's bound over every caller (with the memory cache backend)
    memory_max_bytes: Annotated[int, Field(ge=1024)] = 8 * 1024 * 1024
    # what one caller (API key; client address without [auth]) may keep registered, in memory
    # and in Redis; a query counts its UTF-8 size plus 256 bytes
    max_bytes_per_key: Annotated[int, Field(ge=1024)] = 1024 * 1024
    max_queries_per_key: Annotated[int, Field(ge=1)] = 500

    @field_validator("manifest")
    @classmethod
    def _manifest_exists(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and not value.is_file():
            raise PydanticCustomError(
                "file_missing", "file not found: {path}", {"path": str(value)}
            )
        if value is None and info.data.get("mode") == "safelist":
            raise PydanticCustomError(
                "manifest_missing",
                'mode = "safelist" needs a manifest (usagegraph export-operations > FILE)',
            )
        return value


class Settings(_Model):
    """The whole configuration."""

    sources: tuple[Source, ...]
    server: ServerSettings = ServerSettings()
    graph: GraphSettings = GraphSettings()
    directory: DirectorySettings | None = None
    auth: AuthSettings | None = None
    limits: LimitsSettings = LimitsSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    cache: CacheSettings = CacheSettings()
    persisted_queries: PersistedQueriesSettings = PersistedQueriesSettings()

    @field_validator("sources")
    @classmethod
    def _distinct_and_present(cls, sources: tuple[Source, ...]) -> tuple[Source, ...]:
        if not sources:
            raise PydanticCustomError("no_sources", "at least one [[sources]] entry is required")
        seen: dict[str, int] = {}
        for index, source in enumerate(sources):
            if source.name in seen:
                raise PydanticCustomError(
                    "duplicate_source",
                    "duplicate source name '{name}' (sources[{first}] and sources[{index}])",
                    {"name": source.name, "first": seen[source.name], "index": index},
                )
            seen[source.name] = index
        return sources

    def request_deadline(self) -> float:
        """`[graph] request_deadline_seconds`, else 20 s but never longer than the sources'
        longest `timeout_total`: by default a request waits no longer than one call could."""
        if self.graph.request_deadline_seconds is not None:
            return self.graph.request_deadline_seconds
        return min(DEFAULT_REQUEST_DEADLINE, max(s.timeout_total for s in self.sources))

    def source(self, name: str) -> TelzinoSource | TeliSource | TalkdeskSource:
        """The source called `name` (KeyError when there is none)."""
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)


# -- loading -------------------------------------------------------------------------------------


def load_settings(path: Path, *, environ: Mapping[str, str] = os.environ) -> Settings:
    """Read, interpolate and validate a TOML config file; relative paths in it (the directory)
    resolve against the file's folder."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(None, f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(None, f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(None, f"{path}: invalid TOML: {exc}") from None
    data = interpolate(raw, environ)
    directory = data.get("directory")
    if isinstance(directory, dict) and isinstance(directory.get("path"), str):
        directory["path"] = str(path.resolve().parent / Path(directory["path"]).expanduser())
    persisted = data.get("persisted_queries")
    if isinstance(persisted, dict) and isinstance(persisted.get("manifest"), str):
        folder = path.resolve().parent
        persisted["manifest"] = str(folder / Path(persisted["manifest"]).expanduser())
    return _validate(data)


def settings_from_sources(entries: Sequence[Mapping[str, Any]], **overrides: Any) -> Settings:
    """Settings for ready-made `[[sources]]` entries (e.g. `sandbox.server.source_entries`);
    `overrides` fill the other sections (`server=`, `graph=`, `directory=`: dicts or models)."""
    data: dict[str, Any] = {"sources": [dict(entry) for entry in entries]}
    for key, value in overrides.items():
        data[key] = value.model_dump() if isinstance(value, BaseModel) else value
    return _validate(data)


def interpolate(value: Any, environ: Mapping[str, str], key: str = "") -> Any:
    """Replace `${VAR}` in every string inside `value` (dicts and lists walked; `$${` -> `${`)."""
    if isinstance(value, str):
        return _interpolate_string(value, environ, key)
    if isinstance(value, dict):
        return {k: interpolate(v, environ, _join(key, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, environ, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


_REFERENCE = re.compile(r"\$\$\{|\$\{(?P<name>[^}]*)\}|\$\{")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _interpolate_string(text: str, environ: Mapping[str, str], key: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name = match.group("name")
        if name is None:
            raise ConfigError(key or None, "unterminated '${' (write '$${' for a literal '${')")
        if not _VAR_NAME.fullmatch(name):
            raise ConfigError(key or None, f"'${{{name}}}' is not a valid variable reference")
        if name not in environ:
            raise ConfigError(key or None, f"environment variable {name} is not set")
        return environ[name]

    return _REFERENCE.sub(replace, text)


def _validate(data: Mapping[str, Any]) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        described = [_describe(error) for error in exc.errors(include_url=False)]
    # A misspelt key is unknown (and, when required, missing too); it points at the typo, and
    # the keys that place takes (the missing ones first) suggest what was meant.
    unknown = [d for d in described if d[1].startswith("unknown key")]
    key, problem = (unknown or described)[0]
    missing = [p.split("'")[1] for k, p in described if k == key and p.startswith("missing")]
    known = missing + [k for k in _keys_at(data, key) if k not in missing]
    if unknown and (close := difflib.get_close_matches(problem.split("'")[1], known, n=1)):
        problem += f" (did you mean '{close[0]}'?)"
        described = [
            d for d in described if d[0] != key or d[1] != f"missing required key '{close[0]}'"
        ]
    more = len(described) - 1
    raise ConfigError(key, problem + (f" (and {more} more)" if more else ""))


_SOURCE_MODELS: dict[str, type[BaseModel]] = {
    "telzino": TelzinoSource,
    "teli": TeliSource,
    "talkdesk": TalkdeskSource,
}


def _keys_at(data: Mapping[str, Any], key: str | None) -> list[str]:
    """The keys the config takes at `key` (None: the top level; `sources[2]`: that source's
    kind's keys; `server`, `auth.keys[0]`: that table's keys), for "did you mean" suggestions."""
    if key is None:
        return list(Settings.model_fields)
    if match := re.fullmatch(r"sources\[(\d+)\]", key):
        sources = data.get("sources")
        entry = sources[int(match[1])] if isinstance(sources, list) else None
        kind = entry.get("kind") if isinstance(entry, Mapping) else None
        model = _SOURCE_MODELS.get(kind) if isinstance(kind, str) else None
        return list(model.model_fields) if model else []
    table: type[BaseModel] | None = Settings
    for name in re.sub(r"\[\d+\]", "", key).split("."):  # an array's items: its table
        field = table.model_fields.get(name) if table else None
        table = _table_of(field.annotation) if field else None
    return list(table.model_fields) if table else []


def _table_of(annotation: Any) -> type[BaseModel] | None:
    """The one model a field holds (itself, optional, or an array of it), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    found = {m for arg in get_args(annotation) if (m := _table_of(arg)) is not None}
    return found.pop() if len(found) == 1 else None


def _describe(error: Mapping[str, Any]) -> tuple[str | None, str]:
    """(key path, problem) for one pydantic error, in the config file's vocabulary."""
    loc = list(error["loc"])
    # A discriminated union puts the chosen kind into the location: sources[0].telzino.x.
    if len(loc) >= 3 and loc[0] == "sources" and isinstance(loc[1], int) and loc[2] in SOURCE_KINDS:
        del loc[2]
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return _path(loc[:-1]), f"unknown key '{loc[-1]}'"
    if kind == "missing":
        return _path(loc[:-1]), f"missing required key '{loc[-1]}'"
    if kind == "duplicate_source":
        where = f"sources[{ctx['index']}].name"
        return where, f"duplicate source name '{ctx['name']}' (also sources[{ctx['first']}])"
    if kind == "union_tag_not_found":
        return _path(loc), "missing required key 'kind'"
    if kind == "union_tag_invalid":
        expected = ", ".join(SOURCE_KINDS)
        return _path(
            [*loc, "kind"]
        ), f"unknown kind '{ctx.get('tag')}' (expected one of {expected})"
    if kind in ("model_type", "dict_type"):
        return _path(loc), "must be a table"
    if kind in ("tuple_type", "list_type"):
        return _path(loc), "must be an array"
    if kind in ("string_too_short", "too_short") and isinstance(
        error.get("input"), str | SecretStr
    ):
        return _path(loc), "must not be empty"
    message = str(error["msg"])
    return _path(loc), message[:1].lower() + message[1:]


def _path(loc: Sequence[int | str]) -> str | None:
    text = ""
    for part in loc:
        text = f"{text}[{part}]" if isinstance(part, int) else _join(text, str(part))
    return text or None


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
