"""API keys: hashing, checking a caller's bearer token, and the scopes they grant.

Keys are stored only as SHA-256 hex hashes (`usagegraph hash-key` makes one). A presented key is
hashed and compared with every configured hash in constant time, so neither the key nor which
entry matched leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Collection, Mapping

from usagegraph.resolvers.directory import Directory
from usagegraph.resolvers.scope import Identity
from usagegraph.settings import AuthSettings, ConfigError

__all__ = [
    "KEY_PREFIX",
    "KeyRing",
    "bearer_token",
    "bind_refusal",
    "check_scopes",
    "generate_key",
    "hash_key",
    "is_loopback",
    "is_valid_key",
    "key_entry_toml",
]

# RFC 6750's b64token: what fits in `Authorization: Bearer <key>` without quoting.
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
KEY_PREFIX = "ug_"


def hash_key(key: str) -> str:
    """The SHA-256 hex digest of `key` (UTF-8), as `[[auth.keys]] sha256` stores it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> str:
    """A new random key: 256 bits, URL-safe, prefixed so it is recognizable in a secret scan."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def is_valid_key(key: str) -> bool:
    """Whether `key` can be sent as a bearer token as is."""
    return _TOKEN.fullmatch(key) is not None


class KeyRing:
    """The configured keys; `identify` maps an Authorization header to the caller."""

    def __init__(self, auth: AuthSettings) -> None:
        self._keys = [
            (
                bytes.fromhex(key.sha256),
                Identity(
                    key.name,
                    frozenset(key.resellers) if key.resellers else None,
                    frozenset(key.roles),
                ),
            )
            for key in auth.keys
        ]

    def identify(self, authorization: str | None) -> Identity | None:
        """The identity of a valid `Bearer <key>` header, else None (missing or wrong key)."""
        key = bearer_token(authorization)
        if key is None:
            return None
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        found: Identity | None = None
        for stored, identity in self._keys:
            # no early exit: every comparison runs, whichever key matches
            if hmac.compare_digest(digest, stored):
                found = identity
        return found


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def check_scopes(auth: AuthSettings, directory: Directory, source_kinds: Mapping[str, str]) -> None:
    """Every scoped key names resellers that can exist: a directory reseller id, `<source>` of a
    Talkdesk source (a whole connection is its reseller), or `<source>:<native id>` of any
    configured source. Anything else is a typo that would silently hide data: a ConfigError."""
    directory_ids = {entry.id for entry in directory.resellers}
    for index, key in enumerate(auth.keys):
        for reseller in key.resellers or ():
            problem = _scope_problem(reseller, directory_ids, source_kinds)
            if problem is not None:
                raise ConfigError(
                    f"auth.keys[{index}].resellers", f"key {key.name!r}: {reseller!r} {problem}"
                )


def _scope_problem(
    reseller: str, directory_ids: Collection[str], source_kinds: Mapping[str, str]
) -> str | None:
    if reseller in directory_ids:
        return None
    source, sep, native = reseller.partition(":")
    if source not in source_kinds:
        return (
            "is not a reseller id: neither a directory reseller nor '<source>' / "
            "'<source>:<id>' of a configured source"
        )
    if sep and not native:
        return "names no id after ':'"
    if not sep and source_kinds[source] != "talkdesk":
        return f"names a whole {source_kinds[source]} source: use '{source}:<reseller id>'"
    return None


def is_loopback(host: str) -> bool:
    """Whether binding to `host` keeps the server reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # another host name: could resolve anywhere


def bind_refusal(host: str, *, authenticated: bool, allow_unauthenticated: bool) -> str | None:
    """Why `serve` must not listen on `host`, or None: without [auth] only loopback is safe,
    unless the operator said otherwise (`--allow-unauthenticated` / `[server]`)."""
    if authenticated or allow_unauthenticated or is_loopback(host):
        return None
    return (
        f"refusing to listen on {host} without [auth]: add [[auth.keys]] "
        "(see `usagegraph hash-key`), listen on 127.0.0.1, or pass --allow-unauthenticated"
    )


def key_entry_toml(digest: str, *, name: str) -> str:
    """A ready-to-paste `[[auth.keys]]` entry (valid TOML) storing only the key's hash."""
    lines = ["[[auth.keys]]", f"name = {_toml_string(name)}", f'sha256 = "{digest}"']
    lines.append('# resellers = ["<reseller id>"]  # leave out for every reseller')
    return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
