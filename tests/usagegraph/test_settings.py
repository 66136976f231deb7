"""The config file: the documented example loads, and every mistake is one line naming its key."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from usagegraph.sandbox.dataset import generate
from usagegraph.sandbox.server import source_entries
from usagegraph.settings import (
    ConfigError,
    TalkdeskSource,
    TeliSource,
    TelzinoSource,
    load_settings,
    settings_from_sources,
)

EXAMPLE = """\
[[sources]]
name = "telzino"
kind = "telzino"
reports_url = "https://api.telzino.com"
billing_url = "https://dashboard.telzino.com"
token_url = "https://api.telzino.com/oauth/token"
client_id = "abc"
client_secret = "${TELZINO_CLIENT_SECRET}"

[[sources]]
name = "teli"
kind = "teli"
base_url = "https://api.teli.ai"
api_key = "${TELI_API_KEY}"

[[sources]]
name = "talkdesk-acme"
kind = "talkdesk"
base_url = "https://api.talkdeskapp.com"
token_url = "https://acme.talkdeskid.com/oauth/token"
client_id = "abc"
client_secret = "${TALKDESK_CLIENT_SECRET}"

[directory]
path = "directory.toml"   # optional; relative paths resolve against the config file's folder
"""

ENV = {
    "TELZINO_CLIENT_SECRET": "tz-s3cret",
    "TELI_API_KEY": "teli-k3y",
    "TALKDESK_CLIENT_SECRET": "td-s3cret",
}


def write_config(folder: Path, text: str) -> Path:
    (folder / "directory.toml").write_text("", encoding="utf-8")
    path = folder / "usagegraph.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(folder: Path, text: str, environ: dict[str, str] = ENV) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(folder, text), environ=environ)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_example_config_loads_with_secrets_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, EXAMPLE), environ=ENV)

    telzino, teli, talkdesk = settings.sources
    assert isinstance(telzino, TelzinoSource)
    assert telzino.reports_url == "https://api.telzino.com"
    assert telzino.billing_url == "https://dashboard.telzino.com"
    assert telzino.token_url == "https://api.telzino.com/oauth/token"
    assert telzino.client_secret.get_secret_value() == "tz-s3cret"
    assert isinstance(teli, TeliSource)
    assert teli.api_key.get_secret_value() == "teli-k3y"
    assert isinstance(talkdesk, TalkdeskSource)
    assert talkdesk.name == "talkdesk-acme"
    assert talkdesk.client_secret.get_secret_value() == "td-s3cret"
    assert talkdesk.scope == "express-accounts-usage:read express-accounts:read"
    assert settings.directory is not None
    assert settings.directory.path == tmp_path / "directory.toml"


def test_omitted_sections_and_tuning_keys_take_their_defaults(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, EXAMPLE), environ=ENV)

    teli = settings.source("teli")
    assert (teli.timeout_connect, teli.timeout_read, teli.timeout_total) == (3.0, 15.0, 30.0)
    assert (teli.max_concurrency, teli.max_attempts) == (8, 4)
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8000
    assert settings.server.graphiql is True
    assert settings.server.log_level == "info"
    assert settings.graph.max_range_days == 366
    assert settings.graph.discovery_ttl_seconds == 300


def test_tuning_keys_and_sections_override_the_defaults(tmp_path: Path) -> None:
    text = EXAMPLE.replace(
        'api_key = "${TELI_API_KEY}"',
        'api_key = "${TELI_API_KEY}"\ntimeout_read = 2.5\nmax_concurrency = 2\nmax_attempts = 1',
    )
    text += '\n[server]\nport = 8123\ngraphiql = false\nlog_level = "debug"\n'
    text += "\n[graph]\nmax_range_days = 31\n"

    settings = load_settings(write_config(tmp_path, text), environ=ENV)

    teli = settings.source("teli")
    assert (teli.timeout_read, teli.max_concurrency, teli.max_attempts) == (2.5, 2, 1)
    assert settings.source("telzino").timeout_read == 15.0
    assert (settings.server.port, settings.server.graphiql) == (8123, False)
    assert settings.server.log_level == "debug"
    assert settings.graph.max_range_days == 31


def test_secrets_never_appear_in_repr_or_str(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, EXAMPLE), environ=ENV)

    for text in (repr(settings), str(settings), repr(settings.sources[0])):
        for secret in ENV.values():
            assert secret not in text
    assert "**********" in repr(settings.source("teli"))


def test_relative_directory_path_resolves_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    path = write_config(folder, EXAMPLE)
    monkeypatch.chdir(tmp_path)

    settings = load_settings(Path("etc") / path.name, environ=ENV)

    assert settings.directory is not None
    assert settings.directory.path == folder / "directory.toml"


def test_double_dollar_escapes_a_literal_reference(tmp_path: Path) -> None:
    text = EXAMPLE.replace('client_id = "abc"', 'client_id = "a$${HOME}b"', 1)

    settings = load_settings(write_config(tmp_path, text), environ=ENV)

    assert settings.source("telzino").client_id == "a${HOME}b"


def test_interpolation_reaches_every_string_value(tmp_path: Path) -> None:
    text = EXAMPLE.replace('"https://api.teli.ai"', '"https://${TELI_HOST}/api/proxy"')

    settings = load_settings(
        write_config(tmp_path, text), environ={**ENV, "TELI_HOST": "p.teli.ai"}
    )

    assert settings.source("teli").base_url == "https://p.teli.ai/api/proxy"


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, EXAMPLE), environ=ENV)

    with pytest.raises(pydantic.ValidationError):
        settings.server.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'base_url = "https://api.teli.ai"',
            'base_urll = "https://api.teli.ai"',
            "config error: sources[1]: unknown key 'base_urll' (did you mean 'base_url'?)",
        ),
        (
            'api_key = "${TELI_API_KEY}"',
            "",
            "config error: sources[1]: missing required key 'api_key'",
        ),
        (
            'token_url = "https://acme.talkdeskid.com/oauth/token"',
            'token_url = "acme.talkdeskid.com/oauth/token"',
            "config error: sources[2].token_url: not a valid http(s) URL",
        ),
        (
            'reports_url = "https://api.telzino.com"',
            'reports_url = "ftp://api.telzino.com"',
            "config error: sources[0].reports_url: not a valid http(s) URL",
        ),
        (
            'name = "talkdesk-acme"',
            'name = "telzino"',
            "config error: sources[2].name: duplicate source name 'telzino' (also sources[0])",
        ),
        (
            'kind = "teli"',
            'kind = "twilio"',
            "config error: sources[1].kind: unknown kind 'twilio' "
            "(expected one of telzino, teli, talkdesk)",
        ),
        (
            'kind = "teli"',
            "",
            "config error: sources[1]: missing required key 'kind'",
        ),
        (
            'path = "directory.toml"',
            'path = "missing.toml"',
            "config error: directory.path: file not found: {tmp}/missing.toml",
        ),
        (
            "[directory]",
            "[server]\nport = 8000\nhots = 'x'\n[directory]",
            "config error: server: unknown key 'hots' (did you mean 'host'?)",
        ),
        (
            "[[sources]]",
            "verbose = true\n[[sources]]",
            "config error: unknown key 'verbose'",
        ),
        (
            'api_key = "${TELI_API_KEY}"',
            'api_key = ""',
            "config error: sources[1].api_key: must not be empty",
        ),
    ],
    ids=[
        "unknown-key",
        "missing-key",
        "url-without-scheme",
        "url-not-http",
        "duplicate-name",
        "unknown-kind",
        "missing-kind",
        "missing-directory-file",
        "unknown-server-key",
        "unknown-top-level-key",
        "empty-secret",
    ],
)
def test_config_mistakes_are_one_line_naming_the_key(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in EXAMPLE
    message = config_error(tmp_path, EXAMPLE.replace(old, new, 1))

    assert message == expected.format(tmp=tmp_path)


def test_unset_variable_names_the_key_and_the_variable(tmp_path: Path) -> None:
    environ = {k: v for k, v in ENV.items() if k != "TELI_API_KEY"}

    message = config_error(tmp_path, EXAMPLE, environ)

    assert message == (
        "config error: sources[1].api_key: environment variable TELI_API_KEY is not set"
    )


def test_empty_sources_list_is_an_error(tmp_path: Path) -> None:
    message = config_error(tmp_path, "sources = []\n")

    assert message == "config error: sources: at least one [[sources]] entry is required"


def test_config_without_sources_is_an_error(tmp_path: Path) -> None:
    message = config_error(tmp_path, "[server]\nport = 8000\n")

    assert message == "config error: missing required key 'sources'"


def test_malformed_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    message = config_error(tmp_path, EXAMPLE.replace('name = "teli"', 'name = "teli'))

    path = tmp_path / "usagegraph.toml"
    assert message.startswith(f"config error: {path}: invalid TOML: ")
    assert "line 11" in message


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "nope.toml", environ=ENV)

    assert str(caught.value) == f"config error: {tmp_path / 'nope.toml'}: file not found"


def test_settings_from_the_sandbox_source_entries() -> None:
    entries = source_entries(generate(seed=7, scale="S"), "http://127.0.0.1:9999")

    settings = settings_from_sources(entries, server={"port": 8123})

    assert [s.name for s in settings.sources] == [
        "telzino",
        "teli-northwind",
        "teli-southpoint",
        "talkdesk-northwind",
        "talkdesk-southpoint",
        "talkdesk-eastgate",
    ]
    assert settings.source("telzino").billing_url == "http://127.0.0.1:9999/telzino-dashboard"
    assert settings.server.port == 8123
    assert settings.directory is None


def test_settings_from_sources_reports_bad_entries_like_the_file() -> None:
    entries = [{"name": "teli", "kind": "teli", "base_url": "not a url", "api_key": "k"}]

    with pytest.raises(ConfigError) as caught:
        settings_from_sources(entries)

    assert str(caught.value) == "config error: sources[0].base_url: not a valid http(s) URL"


@pytest.mark.parametrize(
    ("keys", "api_host", "usage_host"),
    [
        # Teli's documented hosts (seeds 002, 003)
        ({}, "https://api.teli.ai", "https://partner.teli.ai/api/proxy"),
        # one host given alone serves both, as the sandbox does
        (
            {"base_url": "http://127.0.0.1:9/teli"},
            "http://127.0.0.1:9/teli",
            "http://127.0.0.1:9/teli",
        ),
        (
            {"base_url": "https://a.example", "usage_url": "https://u.example/proxy"},
            "https://a.example",
            "https://u.example/proxy",
        ),
        ({"usage_url": "https://u.example"}, "https://api.teli.ai", "https://u.example"),
    ],
)
def test_teli_hosts_default_to_the_documented_ones(
    keys: dict[str, str], api_host: str, usage_host: str
) -> None:
    settings = settings_from_sources([{"name": "teli", "kind": "teli", "api_key": "k", **keys}])
    teli = settings.source("teli")
    assert isinstance(teli, TeliSource)
    assert (teli.api_host, teli.usage_host) == (api_host, usage_host)


@pytest.mark.parametrize(
    "value", ["not a url", "ftp://partner.teli.ai", "https://", "", 7, ["https://a.example"]]
)
def test_a_bad_teli_usage_url_stops_start_up_naming_the_key(value: object) -> None:
    entries = [{"name": "teli", "kind": "teli", "usage_url": value, "api_key": "k"}]

    with pytest.raises(ConfigError) as caught:
        settings_from_sources(entries)

    assert str(caught.value).startswith("config error: sources[0].usage_url: ")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("added", "expected"),
    [
        ("[sever]\nport = 8001", "config error: unknown key 'sever' (did you mean 'server'?)"),
        (
            "[server]\nprot = 8001",
            "config error: server: unknown key 'prot' (did you mean 'port'?)",
        ),
        (
            "[graph]\nmax_range_dayz = 31",
            "config error: graph: unknown key 'max_range_dayz' (did you mean 'max_range_days'?)",
        ),
        ("[cahce]\nenabled = false", "config error: unknown key 'cahce' (did you mean 'cache'?)"),
        (
            "[persisted_queries]\nmod = 'apq'",
            "config error: persisted_queries: unknown key 'mod' (did you mean 'mode'?)",
        ),
        (
            '[auth]\n[[auth.keys]]\nname = "ops"\nsha256 = "' + "0" * 64 + '"\nrols = []',
            "config error: auth.keys[0]: unknown key 'rols' (did you mean 'roles'?)",
        ),
    ],
    ids=["section", "server-key", "graph-key", "cache-section", "persisted-key", "auth-key"],
)
def test_a_misspelt_section_or_key_anywhere_gets_a_suggestion(
    tmp_path: Path, added: str, expected: str
) -> None:
    assert config_error(tmp_path, f"{EXAMPLE}\n{added}\n") == expected


@pytest.mark.parametrize("port", [0, 65536, 83556, -1])
def test_a_server_port_outside_1_to_65535_is_refused(tmp_path: Path, port: int) -> None:
    message = config_error(tmp_path, f"{EXAMPLE}\n[server]\nport = {port}\n")

    assert message.startswith("config error: server.port: input should be")
    assert ("1" if port < 1 else "65535") in message


@pytest.mark.parametrize(
    ("added", "expected"),
    [
        ("[graph]\nmax_page_size = 0", "config error: graph.max_page_size: input should be"),
        ("[graph]\nmax_page_size = 1000000", "config error: graph.max_page_size: input should be"),
        ("[graph]\nmax_page_size = \"many\"", "config error: graph.max_page_size: input should be"),
        (
            "[graph]\nmax_page_size = 10\ndefault_page_size = 11",
            "config error: graph.default_page_size: must not exceed max_page_size (10)",
        ),
        (
            "[cache]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:6379/0\"\nlease_seconds = 0",
            "config error: cache.lease_seconds: input should be greater than 0",
        ),
        (
            "[cache]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:6379/0\"\nlease_seconds = 301",
            "config error: cache.lease_seconds: input should be less than or equal to 300",
        ),
        ("[server]\nconsole = \"maybe\"", "config error: server.console: input should be"),
        ("[server]\ngc_tuning = 2", "config error: server.gc_tuning: input should be"),
    ],
    ids=["page-0", "page-huge", "page-text", "default-over-max", "lease-0", "lease-long",
         "console-text", "gc-number"],
)  # fmt: skip
def test_the_new_keys_refuse_hostile_values_in_one_line(
    tmp_path: Path, added: str, expected: str
) -> None:
    assert config_error(tmp_path, f"{EXAMPLE}\n{added}\n").startswith(expected)
