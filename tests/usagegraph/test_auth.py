"""API keys: the 401 gate (no GraphQL runs), key hashing, scope checks at start-up, the loopback
rule of `serve` and the `hash-key` command."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.auth import KEYS, auth_config, auth_settings, bearer, client_for, started
from usagegraph import cli
from usagegraph.app import create_app
from usagegraph.auth import (
    KeyRing,
    bind_refusal,
    check_scopes,
    hash_key,
    is_loopback,
)
from usagegraph.resolvers.directory import load_directory
from usagegraph.resolvers.scope import Identity
from usagegraph.sandbox.server import SandboxServer
from usagegraph.settings import AuthSettings, ConfigError, load_settings, settings_from_sources

QUERY = "{ resellers { id } }"


@pytest.fixture
async def app(sandbox: SandboxServer, directory_file: Path) -> AsyncIterator[FastAPI]:
    async with started(auth_settings(sandbox, directory_file)) as started_app:
        yield started_app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as http:
        yield http


# -- the gate --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "message", "challenge"),
    [
        ({}, "missing API key: send the header 'Authorization: Bearer <key>'", "Bearer"),
        ({"Authorization": "Bearer ug_wrong"}, "invalid API key", 'Bearer error="invalid_token"'),
        (
            {"Authorization": f"Basic {KEYS['ops']}"},
            "invalid API key",
            'Bearer error="invalid_token"',
        ),
        ({"Authorization": "Bearer "}, "invalid API key", 'Bearer error="invalid_token"'),
    ],
)
async def test_a_missing_or_wrong_key_is_a_401_and_nothing_runs(
    client: httpx.AsyncClient,
    sandbox: SandboxServer,
    headers: dict[str, str],
    message: str,
    challenge: str,
) -> None:
    sandbox.control.reset()
    post = await client.post("/graphql", json={"query": QUERY}, headers=headers)
    get = await client.get("/graphql", params={"query": QUERY}, headers=headers)
    for response in (post, get):
        assert response.status_code == 401
        assert response.json() == {
            "errors": [{"message": message, "extensions": {"code": "UNAUTHORIZED"}}]
        }
        assert response.headers["www-authenticate"] == challenge
        assert response.headers["content-type"] == "application/json"
    # not even discovery ran: no GraphQL execution at all
    assert sandbox.control.count() == 0


async def test_a_valid_key_answers_over_post_and_get(
    client: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    post = await client.post("/graphql", json={"query": QUERY}, headers=bearer("ops"))
    lower = {"authorization": f"bearer {KEYS['ops']}"}  # the scheme is case-insensitive
    get = await client.get("/graphql", params={"query": QUERY}, headers=lower)
    for response in (post, get):
        assert response.status_code == 200
        ids = {r["id"] for r in response.json()["data"]["resellers"]}
        assert ids == {"northwind", "southpoint", "eastgate"}
    assert sandbox.control.count() > 0


async def test_healthz_and_the_graphiql_page_need_no_key(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


async def test_the_keys_identity_reaches_the_graphql_context(client: httpx.AsyncClient) -> None:
    scoped = await client.post("/graphql", json={"query": QUERY}, headers=bearer("northwind"))
    assert scoped.json() == {"data": {"resellers": [{"id": "northwind"}]}}


@pytest.mark.parametrize("caller", [None, "ops"])
async def test_websockets_cannot_reach_graphql(app: FastAPI, caller: str | None) -> None:
    """GraphQL over a WebSocket could run queries past the gate: the handshake is refused,
    with or without a key (there are no subscriptions)."""
    headers = [(b"authorization", f"Bearer {KEYS[caller]}".encode())] if caller else []
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "subprotocols": ["graphql-transport-ws"],
        "scheme": "ws",
        "client": ("127.0.0.1", 50000),
        "server": ("usagegraph", 80),
    }
    incoming = [{"type": "websocket.connect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop()
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), timeout=5)
    assert sent, "the app answered nothing"
    assert sent[0]["type"] == "websocket.close"
    assert all(m["type"] != "websocket.accept" for m in sent)


# -- keys and scopes -------------------------------------------------------------------------------


def test_hash_key_is_the_sha256_hex_of_the_utf8_key() -> None:
    assert hash_key("ug_é") == hashlib.sha256("ug_é".encode()).hexdigest()
    assert len(hash_key("x")) == 64


def test_the_key_ring_identifies_each_key_with_its_scope() -> None:
    ring = KeyRing(AuthSettings.model_validate(auth_config()))
    assert ring.identify(f"Bearer {KEYS['ops']}") == Identity("ops", None)
    assert ring.identify(f"Bearer {KEYS['northwind']}") == Identity(
        "northwind", frozenset({"northwind"})
    )
    assert ring.identify(f"  Bearer   {KEYS['eastgate']}  ") == Identity(
        "eastgate", frozenset({"talkdesk-eastgate"})
    )
    for header in (None, "", "Bearer", f"Token {KEYS['ops']}", f"Bearer {KEYS['ops']}x"):
        assert ring.identify(header) is None


def test_an_uppercase_hash_in_the_config_still_matches() -> None:
    auth = AuthSettings.model_validate(
        {"keys": [{"name": "a", "sha256": hash_key("ug_abc").upper()}]}
    )
    assert KeyRing(auth).identify("Bearer ug_abc") == Identity("a", None)


@pytest.mark.parametrize(
    "reseller",
    [
        "northwind",  # a directory reseller
        "talkdesk-eastgate",  # a Talkdesk connection is a reseller by itself
        "telzino:6513270e-269e-4d37-b2a7-4de452e6b438",  # <source>:<native id>
        "teli-northwind:tenant_northwind",
    ],
)
def test_scopes_may_name_any_reseller_id_form(
    sandbox: SandboxServer, directory_file: Path, reseller: str
) -> None:
    auth = {"keys": [{"name": "k", "sha256": "a" * 64, "resellers": [reseller]}]}
    create_app(auth_settings(sandbox, directory_file, auth=auth))  # no ConfigError


@pytest.mark.parametrize(
    ("reseller", "problem"),
    [
        (
            "nortwind",
            "is not a reseller id: neither a directory reseller nor '<source>' / "
            "'<source>:<id>' of a configured source",
        ),
        ("nosuch:123", "is not a reseller id"),
        ("telzino", "names a whole telzino source: use 'telzino:<reseller id>'"),
        ("teli-northwind:", "names no id after ':'"),
    ],
)
def test_an_unknown_scope_is_a_config_error_naming_the_key(
    sandbox: SandboxServer, directory_file: Path, reseller: str, problem: str
) -> None:
    auth = {
        "keys": [
            {"name": "ops", "sha256": "b" * 64},
            {"name": "acme-dashboard", "sha256": "a" * 64, "resellers": ["northwind", reseller]},
        ]
    }
    with pytest.raises(ConfigError) as caught:
        create_app(auth_settings(sandbox, directory_file, auth=auth))
    assert caught.value.key == "auth.keys[1].resellers"
    assert str(caught.value).startswith(
        f"config error: auth.keys[1].resellers: key 'acme-dashboard': {reseller!r} {problem}"
    )


def test_check_scopes_without_a_directory_accepts_only_source_forms() -> None:
    auth = AuthSettings.model_validate(
        {"keys": [{"name": "k", "sha256": "a" * 64, "resellers": ["northwind"]}]}
    )
    with pytest.raises(ConfigError):
        check_scopes(auth, load_directory(None, sources=[]), {"talkdesk-northwind": "talkdesk"})
    ok = AuthSettings.model_validate(
        {"keys": [{"name": "k", "sha256": "a" * 64, "resellers": ["talkdesk-northwind"]}]}
    )
    check_scopes(ok, load_directory(None, sources=[]), {"talkdesk-northwind": "talkdesk"})


AUTH_TOML = """
[[sources]]
name = "teli"
kind = "teli"
base_url = "https://api.teli.ai"
api_key = "k"

[[auth.keys]]
name = "acme-dashboard"
sha256 = "{digest}"
resellers = ["teli:tenant_1"]

[[auth.keys]]
name = "ops"
sha256 = "${{OPS_KEY_SHA256}}"
"""


def test_auth_section_loads_from_toml_with_a_hash_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "usagegraph.toml"
    path.write_text(AUTH_TOML.format(digest=hash_key("ug_acme")), encoding="utf-8")
    settings = load_settings(path, environ={"OPS_KEY_SHA256": hash_key("ug_ops")})
    assert settings.auth is not None
    [acme, ops] = settings.auth.keys
    assert (acme.name, acme.sha256, acme.resellers) == (
        "acme-dashboard",
        hash_key("ug_acme"),
        ("teli:tenant_1",),
    )
    assert (ops.name, ops.resellers) == ("ops", None)


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"keys": []}, "config error: auth.keys: at least one [[auth.keys]] entry is required"),
        (
            {"keys": [{"name": "a", "sha256": "abc"}]},
            "config error: auth.keys[0].sha256: must be a SHA-256 hash: 64 hex digits "
            "(see `usagegraph hash-key`)",
        ),
        (
            {"keys": [{"name": "a", "sha256": "a" * 64}, {"name": "a", "sha256": "b" * 64}]},
            "config error: auth.keys: two keys have the same name (a)",
        ),
        (
            {"keys": [{"name": "a", "sha256": "a" * 64}, {"name": "b", "sha256": "A" * 64}]},
            "config error: auth.keys: two keys have the same sha256 (…)",
        ),
        (
            {"keys": [{"name": "a", "sha256": "a" * 64, "resellers": []}]},
            "config error: auth.keys[0].resellers: must list at least one reseller id "
            "(leave it out for all)",
        ),
        ({"key": []}, "config error: auth: unknown key 'key' (did you mean 'keys'?)"),
    ],
)
def test_auth_config_mistakes_are_one_line(auth: dict[str, Any], message: str) -> None:
    source = {"name": "teli", "kind": "teli", "base_url": "https://api.teli.ai", "api_key": "k"}
    with pytest.raises(ConfigError) as caught:
        settings_from_sources([source], auth=auth)
    assert str(caught.value) == message


# -- serve: loopback without auth ------------------------------------------------------------------

CONFIG = """\
[[sources]]
name = "teli"
kind = "teli"
base_url = "https://api.teli.ai"
api_key = "k"
{extra}"""


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """`serve` configures the usagegraph logger; undo it so other tests' caplog still works."""
    logger = logging.getLogger("usagegraph")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(cli, "_run", lambda app, **kw: calls.append({"app": app, **kw}))
    monkeypatch.delenv("USAGEGRAPH_CONFIG", raising=False)
    return calls


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "usagegraph.toml"
    path.write_text(CONFIG.format(extra=extra), encoding="utf-8")
    return path


def test_serve_without_auth_refuses_a_public_host_in_one_line(
    tmp_path: Path, served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    assert cli.main(["serve", "--config", str(config), "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert err.endswith(
        "config error: --host: refusing to listen on 0.0.0.0 without [auth]: add [[auth.keys]] "
        "(see `usagegraph hash-key`), listen on 127.0.0.1, or pass --allow-unauthenticated\n"
    )
    assert served == []
    config = write_config(tmp_path, '\n[server]\nhost = "10.1.2.3"\n')
    assert cli.main(["serve", "--config", str(config)]) == 2
    assert "config error: server.host: refusing to listen on 10.1.2.3" in capsys.readouterr().err
    assert served == []


def test_serve_without_auth_listens_on_loopback_and_says_so(
    tmp_path: Path, served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["serve", "--config", str(write_config(tmp_path))]) == 0
    assert served[0]["host"] == "127.0.0.1"
    assert "no [auth] configured: listening on loopback (127.0.0.1) only" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "extra"),
    [
        (["--allow-unauthenticated"], ""),
        ([], "\n[server]\nallow_unauthenticated = true\n"),
    ],
)
def test_serve_without_auth_on_a_public_host_when_explicitly_allowed(
    tmp_path: Path,
    served: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    extra: str,
) -> None:
    config = write_config(tmp_path, extra)
    assert cli.main(["serve", "--config", str(config), "--host", "0.0.0.0", *flags]) == 0
    assert served[0]["host"] == "0.0.0.0"
    assert "serving 0.0.0.0 WITHOUT authentication" in capsys.readouterr().err


def test_serve_with_auth_listens_anywhere(tmp_path: Path, served: list[dict[str, Any]]) -> None:
    extra = f'\n[[auth.keys]]\nname = "ops"\nsha256 = "{hash_key("ug_x")}"\n'
    config = write_config(tmp_path, extra)
    assert cli.main(["serve", "--config", str(config), "--host", "0.0.0.0"]) == 0
    assert served[0]["host"] == "0.0.0.0"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    refused = bind_refusal(host, authenticated=False, allow_unauthenticated=False)
    assert (refused is None) is loopback


# -- hash-key -------------------------------------------------------------------------------------


def test_hash_key_hashes_the_key_given_on_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("ug_my-key\n"))
    assert cli.main(["hash-key", "--name", "acme-dashboard"]) == 0
    out, err = capsys.readouterr()
    assert out == (
        "[[auth.keys]]\n"
        'name = "acme-dashboard"\n'
        f'sha256 = "{hash_key("ug_my-key")}"\n'
        '# resellers = ["<reseller id>"]  # leave out for every reseller\n'
    )
    assert err == ""


def test_hash_key_generates_a_key_shown_once_and_prints_its_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["hash-key", "--generate", "--name", "ops"]) == 0
    out, err = capsys.readouterr()
    key = err.strip().rsplit(" ", 1)[-1]
    assert key.startswith("ug_") and len(key) > 40
    assert key not in out  # stdout (the config entry) holds only the hash
    path = tmp_path / "usagegraph.toml"
    path.write_text(CONFIG.format(extra="\n" + out), encoding="utf-8")
    settings = load_settings(path)
    assert settings.auth is not None
    assert KeyRing(settings.auth).identify(f"Bearer {key}") == Identity("ops", None)


def test_hash_key_rejects_what_cannot_be_a_bearer_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("two words\n"))
    assert cli.main(["hash-key"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "must be one bearer token" in err


def test_a_key_carries_the_roles_its_entry_gives_it() -> None:
    auth = AuthSettings.model_validate(
        {
            "keys": [
                {"name": "ops", "sha256": hash_key("ug_ops-0123456789"), "roles": ["operator"]},
                {"name": "gw", "sha256": hash_key("ug_gw-0123456789"), "roles": ["federation"]},
                {"name": "plain", "sha256": hash_key("ug_plain-0123456789")},
            ]
        }
    )
    ring = KeyRing(auth)
    roles = {name: ring.identify(f"Bearer ug_{name}-0123456789") for name in ("ops", "gw", "plain")}
    assert {n: i.roles if i else None for n, i in roles.items()} == {
        "ops": frozenset({"operator"}),
        "gw": frozenset({"federation"}),
        "plain": frozenset(),
    }


def test_an_unknown_role_is_a_config_error() -> None:
    entries = [{"name": "t", "kind": "teli", "api_key": "k"}]
    auth = {"keys": [{"name": "x", "sha256": hash_key("ug_x-0123456789"), "roles": ["root"]}]}
    with pytest.raises(ConfigError) as caught:
        settings_from_sources(entries, auth=auth)
    assert str(caught.value).startswith("config error: auth.keys[0].roles[0]:")
