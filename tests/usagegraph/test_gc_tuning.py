"""The app tunes the collector of the process that serves it, whatever ASGI server that is: once,
at its lifespan start-up, unless `[server] gc_tuning = false`; never when a test enters the
lifespan itself (the suite's own process keeps CPython's collector).

Each serving case runs in a fresh interpreter: tuning is once per process and cannot be undone.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from usagegraph.app import create_app
from usagegraph.settings import ConfigError, load_settings, settings_from_sources

SOURCES = [{"name": "teli-a", "kind": "teli", "base_url": "http://teli.test", "api_key": "k"}]

# Serves `apps` apps one after the other under a real uvicorn on a loopback port, and prints the
# collector's state before and after each one's start-up as JSON.
SERVE = textwrap.dedent(
    """
    import asyncio, gc, json, sys

    import uvicorn

    from usagegraph.app import create_app
    from usagegraph.settings import settings_from_sources

    sources, server, apps = json.loads(sys.argv[1])

    async def serve_once() -> dict:
        app = create_app(settings_from_sources(sources, server=server))
        config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_level="error")
        uv = uvicorn.Server(config)
        task = asyncio.create_task(uv.serve())
        while not uv.started:
            await asyncio.sleep(0.01)
        state = {"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}
        uv.should_exit = True
        await task
        return state

    async def main() -> None:
        states = [{"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}]
        kept = []
        for _ in range(apps):
            states.append(await serve_once())
            kept.append([[] for _ in range(20_000)])  # live objects a second freeze would pin
        print(json.dumps(states))

    asyncio.run(main())
    """
)


def serve(server: dict[str, object], *, apps: int = 1) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-c", SERVE, json.dumps([SOURCES, server, apps])],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    states: list[dict[str, object]] = json.loads(done.stdout)
    return states


def test_a_server_running_the_app_tunes_its_process_at_start_up() -> None:
    before, served = serve({})
    assert before == {"threshold": [700, 10, 10], "frozen": 0}
    assert served["threshold"] == [50_000, 10, 10]
    assert isinstance(served["frozen"], int)
    assert served["frozen"] > 10_000  # the imported modules and what start-up built


def test_a_second_app_in_the_same_process_does_not_freeze_again() -> None:
    _, first, second = serve({}, apps=2)
    assert first["threshold"] == second["threshold"] == [50_000, 10, 10]
    # frozen objects that die leave the count, and a few move in and out of it: far fewer than
    # the 20,000 live lists (and the second app) that another freeze would add
    assert abs(second["frozen"] - first["frozen"]) < 2_000


def test_gc_tuning_off_leaves_cpythons_collector() -> None:
    before, served = serve({"gc_tuning": False})
    assert served == before == {"threshold": [700, 10, 10], "frozen": 0}


async def test_entering_the_lifespan_directly_leaves_the_test_process_alone() -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    app = create_app(settings_from_sources(SOURCES))
    async with app.router.lifespan_context(app):
        assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "gc_tunning = false",
            "config error: server: unknown key 'gc_tunning' (did you mean 'gc_tuning'?)",
        ),
        ('gc_tuning = "sometimes"', "config error: server.gc_tuning: "),
    ],
)
def test_the_setting_is_checked_like_every_other(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "usagegraph.toml"
    config.write_text(
        '[[sources]]\nname = "t"\nkind = "teli"\nbase_url = "http://teli.test"\napi_key = "k"\n'
        f"\n[server]\n{toml}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert str(raised.value).startswith(message)
