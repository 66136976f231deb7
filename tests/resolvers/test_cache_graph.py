"""The result cache through the app, against the sandbox over real HTTP: a warm repeat costs no
call, concurrent identical dashboards cost the calls of one, a failed source is answered from
a stale entry that coverage marks (and never beyond `stale_seconds`), TTLs follow the range,
scoped keys see no more than they could fetch, and the naive benchmark mode bypasses it all."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from tests.fixtures.auth import ask, auth_settings
from tests.fixtures.cached_graph import (
    DASHBOARD,
    FAST,
    Clock,
    month_vars,
    post,
    recorded,
    result_cache,
    serving,
)
from tests.fixtures.graph import tuned_sandbox_settings
from tests.fixtures.truth import (
    customer_channel,
    customer_parts,
    expected_customer,
    last_full_month,
    organization_id_of,
)
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer

FETCHES = {
    "fetch_minutes",
    "fetch_billing",
    "fetch_org_analytics",
    "fetch_user_analytics",
    "fetch_usage",
    "fetch_rows",
    "list_users",
    "discover",
}

# the README's first dashboard query
OVERVIEW = (
    Path(__file__).parents[2] / "examples" / "operations" / "ResellerOverview.graphql"
).read_text(encoding="utf-8")

ORG_USAGE = """
query ($id: ID!, $first: Date!, $last: Date!) {
  organization(id: $id) {
    usage(range: {firstDay: $first, lastDay: $last}) {
      voice { seconds }
      costs { amount currency }
      coverage { complete sources { source status reason stale asOf } }
    }
  }
}
"""


def flush(cache_config: dict[str, Any]) -> None:
    """Empty the Redis a `cache_config` points at (the memory backend dies with its app)."""
    if "url" in cache_config:
        client = redis.Redis.from_url(cache_config["url"])
        try:
            client.flushdb()
        finally:
            client.close()


# -- warm repeats and single flight --------------------------------------------------------------


async def test_a_warm_repeat_makes_no_upstream_call_at_all(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, cache_config: dict[str, Any]
) -> None:
    settings = tuned_sandbox_settings(sandbox, directory_file, {}, cache=cache_config)
    async with serving(settings) as (_, client):
        cold = await post(client, DASHBOARD, month_vars(dataset))
        assert "errors" not in cold, cold["errors"][:2]
        assert sandbox.control.count() > 0
        sandbox.control.reset()
        warm = await post(client, DASHBOARD, month_vars(dataset))

    assert sandbox.control.count() == 0, recorded(sandbox.control)  # no discovery, no token
    assert warm == cold


async def test_32_concurrent_identical_dashboards_cost_the_calls_of_one(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, cache_config: dict[str, Any]
) -> None:
    settings = tuned_sandbox_settings(sandbox, directory_file, {}, cache=cache_config)
    first, last = last_full_month(dataset)
    variables = {"firstDay": str(first), "lastDay": str(last)}
    async with serving(settings) as (_, client):
        one = await post(client, OVERVIEW, variables)
    calls_of_one = recorded(sandbox.control)
    sandbox.control.reset()
    flush(cache_config)  # the second app starts cold too, even with a shared Redis

    async with serving(settings) as (_, client):
        many = await asyncio.gather(*(post(client, OVERVIEW, variables) for _ in range(32)))

    assert "errors" not in one
    assert sum(calls_of_one.values()) > 10
    # the same requests, each exactly as often: discovery, tokens, every report
    assert recorded(sandbox.control) == calls_of_one
    assert all(result == one for result in many)


async def test_debug_lists_cache_misses_then_hits_and_metrics_count_them(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, cache_config: dict[str, Any]
) -> None:
    settings = tuned_sandbox_settings(
        sandbox, directory_file, {}, server={"debug": True}, cache=cache_config
    )
    variables = {"id": "cust0000", **month_vars(dataset)}
    async with serving(settings) as (_, client):
        cold = await post(client, ORG_USAGE, variables)
        cold_calls = sandbox.control.count()
        sandbox.control.reset()
        warm = await post(client, ORG_USAGE, variables)
        metrics = (await client.get("/metrics")).text

    cold_events = cold["extensions"]["upstream"]
    assert len(cold_events) == cold_calls  # every HTTP call, each listed as a cache miss
    assert {e["cache"] for e in cold_events} == {"miss"}
    warm_events = warm["extensions"]["upstream"]
    assert sandbox.control.count() == 0
    # one hit per source part's fetch (Telzino minutes, Teli analytics, Talkdesk rows)
    assert {(e["source"], e["endpoint"], e["cache"]) for e in warm_events} == {
        ("telzino", "fetch_minutes", "hit"),
        ("teli-northwind", "fetch_org_analytics", "hit"),
        ("talkdesk-northwind", "fetch_rows", "hit"),
    }
    assert all(e["attempt"] == 0 and e["error"] is None for e in warm_events)
    backend = cache_config.get("backend", "memory")
    assert f'usagegraph_cache_hits_total{{backend="{backend}"}} 3.0' in metrics
    misses = [line for line in metrics.splitlines() if line.startswith("usagegraph_cache_misses")]
    assert misses and float(misses[0].split()[-1]) >= 3  # discovery's and the first usage's


# -- TTL classes ------------------------------------------------------------------------------


async def test_a_range_with_today_refetches_after_the_live_ttl_a_past_one_does_not(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, cache_config: dict[str, Any]
) -> None:
    settings = tuned_sandbox_settings(
        sandbox,
        directory_file,
        {},
        cache={**cache_config, "ttl_live_seconds": 60, "ttl_past_seconds": 3600},
    )
    today = datetime.now(UTC).date()
    live = {"id": "cust0000", "first": str(today - timedelta(days=6)), "last": str(today)}
    past = {"id": "cust0000", **month_vars(dataset)}
    query = (
        "query ($id: ID!, $first: Date!, $last: Date!) { organization(id: $id) { "
        "usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } } }"
    )
    async with serving(settings) as (app, client):
        clock = Clock()
        result_cache(app).clock = clock
        await post(client, query, live)
        await post(client, query, past)
        clock.now += 59
        sandbox.control.reset()
        await post(client, query, live)
        await post(client, query, past)
        assert sandbox.control.count() == 0
        clock.now += 1  # the live entries are 60 s old now
        await post(client, query, live)
        live_calls = recorded(sandbox.control)
        sandbox.control.reset()
        await post(client, query, past)
        past_calls = sandbox.control.count()

    # cust0000's Telzino and Teli figures over the last 7 days were asked again; the partial
    # month leaves Talkdesk out, and the past month came from the cache
    assert live_calls == Counter(
        {
            ("telzino-api", "/v1/reports/minutes-by-organization"): 1,
            ("teli", "/v1/analytics/organizations"): 1,
        }
    )
    assert past_calls == 0


# -- stale on failure ----------------------------------------------------------------------------


async def test_a_failed_source_is_served_stale_marked_in_coverage_with_its_fetch_time(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, cache_config: dict[str, Any]
) -> None:
    settings = tuned_sandbox_settings(sandbox, directory_file, FAST, cache=cache_config)
    variables = {"id": "cust0000", **month_vars(dataset)}
    async with serving(settings) as (app, client):
        clock = Clock()
        fetched_at = datetime.fromtimestamp(clock.now, UTC)
        result_cache(app).clock = clock
        fresh = await post(client, ORG_USAGE, variables)
        clock.now += 2 * 3600  # past the month's TTL (1 h), well within stale_seconds (1 day)
        sandbox.control.reset()
        sandbox.control.inject(status=503)  # every vendor is down
        served = await post(client, ORG_USAGE, variables)
        failed_calls = sandbox.control.count()

    assert "errors" not in fresh
    assert "errors" not in served  # the figures stand in; coverage carries the mark
    assert failed_calls == 3  # each source was asked first, once
    first, last = last_full_month(dataset)
    usage = served["data"]["organization"]["usage"]
    assert usage["voice"] == {
        "seconds": expected_customer(dataset, "cust0000", first, last).voice_seconds
    }
    assert usage["voice"] == fresh["data"]["organization"]["usage"]["voice"]
    assert usage["costs"] == fresh["data"]["organization"]["usage"]["costs"]
    coverage = usage["coverage"]
    assert coverage["complete"] is False
    assert {s["source"] for s in coverage["sources"]} == {
        p.source for p in customer_parts(dataset, "cust0000")
    }
    for source in coverage["sources"]:
        assert source["stale"] is True, source
        assert source["status"] == "EXACT"
        assert datetime.fromisoformat(source["asOf"]) == fetched_at
    # while fresh, the same figures were neither stale nor incomplete
    assert not any(
        s["stale"] for s in fresh["data"]["organization"]["usage"]["coverage"]["sources"]
    )


async def test_one_failed_source_is_stale_and_the_others_fresh(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, cache_config: dict[str, Any]
) -> None:
    settings = tuned_sandbox_settings(sandbox, directory_file, FAST, cache=cache_config)
    variables = {"id": "cust0000", **month_vars(dataset)}
    async with serving(settings) as (app, client):
        clock = Clock()
        result_cache(app).clock = clock
        await post(client, ORG_USAGE, variables)
        clock.now += 2 * 3600
        sandbox.control.inject(vendor="teli", status=429)
        served = await post(client, ORG_USAGE, variables)

    assert "errors" not in served
    coverage = served["data"]["organization"]["usage"]["coverage"]
    sources = {s["source"]: s for s in coverage["sources"]}
    assert sources["teli-northwind"]["stale"] is True
    assert datetime.fromisoformat(sources["teli-northwind"]["asOf"]) == datetime.fromtimestamp(
        clock.now - 2 * 3600, UTC
    )
    assert sources["telzino"]["stale"] is False
    assert datetime.fromisoformat(sources["telzino"]["asOf"]) == datetime.fromtimestamp(
        clock.now, UTC
    )
    assert coverage["complete"] is False


async def test_no_stale_entry_is_served_beyond_stale_seconds(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, cache_config: dict[str, Any]
) -> None:
    settings = tuned_sandbox_settings(
        sandbox, directory_file, FAST, cache={**cache_config, "stale_seconds": 600}
    )
    variables = {"id": "cust0000", **month_vars(dataset)}
    async with serving(settings) as (app, client):
        clock = Clock()
        result_cache(app).clock = clock
        await post(client, ORG_USAGE, variables)
        clock.now += 3600 + 600  # expired exactly stale_seconds ago
        sandbox.control.inject(vendor="teli", status=503)
        result = await post(client, ORG_USAGE, variables)

    usage = result["data"]["organization"]["usage"]
    assert usage["voice"] is None and usage["costs"] is None
    codes = {
        (e["path"][-1], e["extensions"]["code"], e["extensions"]["source"])
        for e in result["errors"]
    }
    assert codes == {
        ("voice", "UPSTREAM_UNAVAILABLE", "teli-northwind"),
        ("costs", "UPSTREAM_UNAVAILABLE", "teli-northwind"),
    }
    teli = next(s for s in usage["coverage"]["sources"] if s["source"] == "teli-northwind")
    assert (teli["status"], teli["reason"], teli["stale"]) == ("MISSING", "UPSTREAM_FAILED", False)


async def test_a_bad_answer_is_an_error_even_with_a_stale_entry(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, cache_config: dict[str, Any]
) -> None:
    settings = tuned_sandbox_settings(sandbox, directory_file, FAST, cache=cache_config)
    variables = {"id": "cust0000", **month_vars(dataset)}
    async with serving(settings) as (app, client):
        clock = Clock()
        result_cache(app).clock = clock
        await post(client, ORG_USAGE, variables)
        clock.now += 2 * 3600
        sandbox.control.inject(vendor="teli", status=403)  # not an outage: our access changed
        result = await post(client, ORG_USAGE, variables)

    assert result["data"]["organization"]["usage"]["voice"] is None
    assert {e["extensions"]["code"] for e in result["errors"]} == {"UPSTREAM_FORBIDDEN"}


async def test_a_failed_discovery_keeps_the_cached_one_and_says_so_in_sources(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, cache_config: dict[str, Any]
) -> None:
    # a zero discovery TTL: every request discovers again, through the cache
    settings = tuned_sandbox_settings(
        sandbox, directory_file, FAST, graph={"discovery_ttl_seconds": 0}, cache=cache_config
    )
    query = "{ organizations { id } sources { name lastErrorCode } }"
    async with serving(settings) as (_, client):
        before = await post(client, query)
        sandbox.control.inject(vendor="teli", status=503)
        after = await post(client, query)

    assert after["data"]["organizations"] == before["data"]["organizations"]
    codes = {s["name"]: s["lastErrorCode"] for s in after["data"]["sources"]}
    assert codes["teli-northwind"] == "UPSTREAM_UNAVAILABLE"
    assert codes["telzino"] is None
    # the answer itself says an older discovery stands in, for which sources and since when
    assert "errors" not in after and "staleDiscovery" not in before.get("extensions", {})
    stale = after["extensions"]["staleDiscovery"]
    assert [s["source"] for s in stale] == ["teli-northwind", "teli-southpoint"]
    for entry in stale:
        assert entry["code"] == "UPSTREAM_UNAVAILABLE" and "503" in entry["message"]
        age = datetime.now(UTC) - datetime.fromisoformat(entry["asOf"])
        assert timedelta(0) <= age < timedelta(minutes=1)


async def test_a_scoped_key_hears_only_of_its_own_sources_stale_discovery(
    sandbox: SandboxServer, directory_file: Path, cache_config: dict[str, Any]
) -> None:
    settings = auth_settings(
        sandbox, directory_file, graph={"discovery_ttl_seconds": 0}, cache=cache_config
    )
    async with serving(settings) as (_, client):
        await ask(client, "ops", "{ resellers { id } }")
        sandbox.control.inject(vendor="teli", status=503)
        result = await ask(client, "northwind", "{ resellers { id } }")
    assert result["data"]["resellers"] == [{"id": "northwind"}]
    assert [s["source"] for s in result["extensions"]["staleDiscovery"]] == ["teli-northwind"]


# -- who may read what -------------------------------------------------------------------------


SCOPED = """
query ($first: Date!, $last: Date!) {
  organizations {
    id
    usage(range: {firstDay: $first, lastDay: $last}) {
      voice { seconds }
      bySource { source nativeIds telzino { organizationId } teli { organizationId } }
    }
  }
}
"""


async def test_a_scoped_key_reads_from_the_cache_only_what_it_could_fetch(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset, cache_config: dict[str, Any]
) -> None:
    variables = month_vars(dataset)
    settings = auth_settings(sandbox, directory_file, cache=cache_config)
    # cold: what the scoped key gets with nothing cached
    async with serving(settings) as (_, client):
        cold = await ask(client, "northwind", SCOPED, variables)
    # warm: an unscoped key filled the cache with every reseller's reports first
    flush(cache_config)
    async with serving(settings) as (_, client):
        await ask(client, "ops", SCOPED, variables)
        sandbox.control.reset()
        warm = await ask(client, "northwind", SCOPED, variables)

    assert warm == cold
    assert sandbox.control.count() == 0  # the same fetches, so all from the cache
    first, last = last_full_month(dataset)
    orgs = warm["data"]["organizations"]
    northwind = {
        organization_id_of(dataset, c): c
        for c in dataset.customer_names
        if customer_parts(dataset, c) and customer_channel(dataset, c) == "northwind"
    }
    assert {o["id"] for o in orgs} == set(northwind)
    for org in orgs:
        expected = expected_customer(dataset, northwind[org["id"]], first, last)
        assert org["usage"]["voice"]["seconds"] == expected.voice_seconds
        # every vendor row shown is the organization's own
        for share in org["usage"]["bySource"]:
            rows = (share["telzino"] or []) + (share["teli"] or [])
            assert {r["organizationId"] for r in rows} <= set(share["nativeIds"])


# -- the benchmark's naive mode ------------------------------------------------------------------


async def test_the_naive_mode_bypasses_the_cache(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    settings = tuned_sandbox_settings(sandbox, directory_file, {}, graph={"naive_loaders": True})
    variables = {"id": "cust0000", **month_vars(dataset)}
    async with serving(settings) as (app, client):
        assert app.state.graph.cache is None
        await post(client, ORG_USAGE, variables)
        sandbox.control.reset()
        await post(client, ORG_USAGE, variables)
        again = recorded(sandbox.control)

    assert again == Counter(
        {
            ("telzino-api", "/v1/reports/minutes-by-organization"): 1,
            ("teli", "/v1/analytics/organizations"): 1,
            ("talkdesk", "/express/usage/month"): 1,
        }
    )


async def test_a_disabled_cache_calls_every_time(
    sandbox: SandboxServer, directory_file: Path, dataset: Dataset
) -> None:
    settings = tuned_sandbox_settings(sandbox, directory_file, {}, cache={"enabled": False})
    variables = {"id": "cust0000", **month_vars(dataset)}
    async with serving(settings) as (app, client):
        assert app.state.graph.cache is None
        assert app.state.cache_backend.name == "memory"  # still there for other features
        await post(client, ORG_USAGE, variables)
        sandbox.control.reset()
        await post(client, ORG_USAGE, variables)
    assert sandbox.control.count() == 3
