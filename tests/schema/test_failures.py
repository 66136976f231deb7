"""One failing source never fails the query: exactly the fields it measures are null, the errors
name the path, code and source, and every other source's figures stay complete and exact.

Faults are injected in the sandbox after discovery (except where discovery itself is tested);
sources get one attempt each so a persistent fault fails fast instead of being retried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.graph import GraphQuery, open_graph, tuned_sandbox_settings
from tests.fixtures.truth import (
    customer_parts,
    last_full_month,
    organization_id_of,
    talkdesk_costs,
    talkdesk_truth,
    talkdesk_voice_seconds,
    teli_org_truth,
    telzino_org_truth,
)
from usagegraph.sandbox.dataset import Dataset, teli_source_name
from usagegraph.sandbox.server import SandboxServer

FAST = {"max_attempts": 1, "timeout_total": 5.0}


@pytest.fixture
async def fast_graph(sandbox: SandboxServer, directory_file: Path) -> AsyncIterator[GraphQuery]:
    async with open_graph(tuned_sandbox_settings(sandbox, directory_file, FAST)) as run:
        yield run


USAGE = """
query ($id: ID!, $first: Date!, $last: Date!) {
  organization(id: $id) {
    id
    usage(range: {firstDay: $first, lastDay: $last}) {
      days
      voice { seconds }
      sms { inboundSegments outboundSegments }
      mms { inboundSegments outboundSegments }
      apiRequests
      phoneNumbers { rentals }
      brandRegistrations
      knowledgeBases
      costs { amount currency }
      bySource { source voice { seconds } sms { outboundSegments } costs { amount currency } }
      coverage { complete sources { source status reason } }
    }
  }
}
"""


def money(items: list[dict[str, str]] | None) -> dict[str, Decimal] | None:
    if items is None:
        return None
    return {m["currency"]: Decimal(m["amount"]) for m in items}


def errors_by_path(result: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(e["path"]): e for e in result.get("errors", [])}


def ids(dataset: Dataset, customer: str) -> dict[str, str | None]:
    return {p.source: p.native_id for p in customer_parts(dataset, customer)}


async def run_usage(run: GraphQuery, dataset: Dataset, customer: str) -> dict[str, Any]:
    first, last = last_full_month(dataset)
    variables = {
        "id": organization_id_of(dataset, customer),
        "first": str(first),
        "last": str(last),
    }
    return await run(USAGE, variables)


async def test_teli_down_nulls_what_teli_measures_and_keeps_the_others_exact(
    fast_graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await fast_graph("{ resellers { id } }")
    sandbox.control.inject(vendor="teli", status=503)

    result = await run_usage(fast_graph, dataset, "cust0000")

    usage = result["data"]["organization"]["usage"]
    # Teli measures voice, SMS, MMS, API requests, numbers, brands, KBs and costs: all unknown
    for name in (
        "voice",
        "sms",
        "mms",
        "apiRequests",
        "phoneNumbers",
        "brandRegistrations",
        "knowledgeBases",
        "costs",
    ):
        assert usage[name] is None, name
    assert usage["days"] == (last - first).days + 1
    errors = errors_by_path(result)
    for name in ("voice", "sms", "mms", "costs", "knowledgeBases"):
        error = errors[("organization", "usage", name)]
        assert error["extensions"] == {"code": "UPSTREAM_UNAVAILABLE", "source": "teli-northwind"}
        assert "Traceback" not in error["message"]
    # every error is about Teli, and nothing else failed
    assert {e["extensions"]["source"] for e in result["errors"]} == {"teli-northwind"}
    assert all(e["path"][:2] == ["organization", "usage"] for e in result["errors"])

    shares = {s["source"]: s for s in usage["bySource"]}
    parts = ids(dataset, "cust0000")
    telzino = telzino_org_truth(dataset, str(parts["telzino"]), first, last)
    assert shares["telzino"] == {
        "source": "telzino",
        "voice": {"seconds": telzino.seconds},
        "sms": None,
        "costs": None,
    }
    rows = dataset.talkdesk_rows([str(parts["talkdesk-northwind"])], [first.strftime("%Y-%m")])
    talkdesk = shares["talkdesk-northwind"]
    assert talkdesk["voice"] == {"seconds": talkdesk_voice_seconds(rows)}
    assert money(talkdesk["costs"]) == talkdesk_costs(rows)
    assert shares["teli-northwind"]["voice"] is None
    assert shares["teli-northwind"]["costs"] is None
    assert errors[("organization", "usage", "bySource", 1, "voice")]["extensions"] == {
        "code": "UPSTREAM_UNAVAILABLE",
        "source": "teli-northwind",
    }

    coverage = {s["source"]: s for s in usage["coverage"]["sources"]}
    assert usage["coverage"]["complete"] is False
    assert coverage["teli-northwind"]["status"] == "MISSING"
    assert coverage["teli-northwind"]["reason"] == "UPSTREAM_FAILED"
    assert coverage["telzino"]["status"] == "EXACT"
    assert coverage["talkdesk-northwind"]["status"] == "EXACT"


async def test_telzino_down_nulls_voice_only(
    fast_graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await fast_graph("{ resellers { id } }")
    sandbox.control.inject(mount="telzino-api", path="/v1/reports", status=503)

    result = await run_usage(fast_graph, dataset, "cust0000")

    usage = result["data"]["organization"]["usage"]
    assert usage["voice"] is None
    errors = errors_by_path(result)
    assert errors[("organization", "usage", "voice")]["extensions"] == {
        "code": "UPSTREAM_UNAVAILABLE",
        "source": "telzino",
    }
    parts = ids(dataset, "cust0000")
    teli = teli_org_truth(dataset, str(parts["teli-northwind"]), first, last)
    rows = dataset.talkdesk_rows([str(parts["talkdesk-northwind"])], [first.strftime("%Y-%m")])
    talkdesk = talkdesk_truth(rows)
    assert usage["sms"] == {
        "inboundSegments": teli.sms_in + talkdesk.sms_in,
        "outboundSegments": teli.sms_out + talkdesk.sms_out,
    }
    assert usage["mms"] == {"inboundSegments": teli.mms_in, "outboundSegments": teli.mms_out}
    expected_costs = talkdesk_costs(rows)
    expected_costs["USD"] = expected_costs.get("USD", Decimal(0)) + teli.cost_usd
    assert money(usage["costs"]) == expected_costs
    assert usage["apiRequests"] is not None and usage["knowledgeBases"] is not None
    assert {e["extensions"]["source"] for e in result["errors"]} == {"telzino"}
    coverage = {s["source"]: s for s in usage["coverage"]["sources"]}
    assert (coverage["telzino"]["status"], coverage["telzino"]["reason"]) == (
        "MISSING",
        "UPSTREAM_FAILED",
    )


async def test_agents_of_a_failed_telzino_are_null_with_the_error(
    fast_graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await fast_graph("{ resellers { id } }")
    sandbox.control.inject(mount="telzino-api", path="/v1/reports", status=503)
    query = """
    query ($first: Date!, $last: Date!) {
      organization(id: "cust0000") {
        agents { id usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } }
        users { usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } }
      }
    }
    """
    result = await fast_graph(query, {"first": str(first), "last": str(last)})
    org = result["data"]["organization"]
    assert org["agents"] and all(a["usage"]["voice"] is None for a in org["agents"])
    assert all(u["usage"]["voice"]["seconds"] is not None for u in org["users"])
    assert {e["extensions"]["code"] for e in result["errors"]} == {"UPSTREAM_UNAVAILABLE"}
    assert {e["extensions"]["source"] for e in result["errors"]} == {"telzino"}
    assert len(result["errors"]) == len(org["agents"])


async def test_talkdesk_rate_limited_nulls_only_what_talkdesk_measures(
    fast_graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await fast_graph("{ resellers { id } }")
    sandbox.control.inject(mount="talkdesk", path="/express/usage", status=429)

    result = await run_usage(fast_graph, dataset, "cust0000")

    usage = result["data"]["organization"]["usage"]
    parts = ids(dataset, "cust0000")
    teli = teli_org_truth(dataset, str(parts["teli-northwind"]), first, last)
    t = dataset.teli_org_totals(str(parts["teli-northwind"]), first, last)
    # Talkdesk measures voice, SMS, API requests, numbers and costs...
    for name in ("voice", "sms", "apiRequests", "phoneNumbers", "costs"):
        assert usage[name] is None, name
        error = errors_by_path(result)[("organization", "usage", name)]
        assert error["extensions"] == {
            "code": "UPSTREAM_RATE_LIMITED",
            "source": "talkdesk-northwind",
        }
    # ...but not MMS, brands or knowledge bases: those stay exact from Teli
    assert usage["mms"] == {"inboundSegments": teli.mms_in, "outboundSegments": teli.mms_out}
    assert usage["brandRegistrations"] == t["brand_registrations"]
    assert usage["knowledgeBases"] == t["kbs_created"]
    shares = {s["source"]: s for s in usage["bySource"]}
    assert money(shares["teli-northwind"]["costs"]) == {"USD": teli.cost_usd}
    assert shares["teli-northwind"]["voice"] == {"seconds": teli.voice_seconds}
    coverage = {s["source"]: s for s in usage["coverage"]["sources"]}
    assert coverage["talkdesk-northwind"]["status"] == "MISSING"
    assert coverage["talkdesk-northwind"]["reason"] == "UPSTREAM_FAILED"


async def test_a_failed_source_leaves_other_organizations_complete(
    fast_graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await fast_graph("{ resellers { id } }")
    sandbox.control.inject(vendor="teli", status=503)  # every Teli tenant
    query = """
    query ($first: Date!, $last: Date!) {
      organizations {
        id
        usage(range: {firstDay: $first, lastDay: $last}) {
          voice { seconds } costs { amount currency }
        }
      }
    }
    """
    result = await fast_graph(query, {"first": str(first), "last": str(last)})
    orgs = {o["id"]: o for o in result["data"]["organizations"]}
    failed_paths = {tuple(e["path"][:2]) for e in result["errors"]}
    for customer in dataset.customer_names:
        org_id = organization_id_of(dataset, customer)
        index = list(orgs).index(org_id)
        has_teli = any(p.kind == "TELI" for p in customer_parts(dataset, customer))
        usage = orgs[org_id]["usage"]
        if has_teli:
            assert usage["voice"] is None and usage["costs"] is None
            assert ("organizations", index) in failed_paths
        else:
            assert ("organizations", index) not in failed_paths
            parts = customer_parts(dataset, customer)
            seconds = 0
            costs: dict[str, Decimal] = {}
            for part in parts:
                if part.kind == "TELZINO":
                    seconds += dataset.telzino_org_seconds(str(part.native_id), first, last)
                else:
                    rows = dataset.talkdesk_rows([str(part.native_id)], [first.strftime("%Y-%m")])
                    seconds += talkdesk_voice_seconds(rows)
                    costs = talkdesk_costs(rows)
            assert usage["voice"] == {"seconds": seconds}, customer
            assert money(usage["costs"]) == (costs or None), customer
    assert {e["extensions"]["source"] for e in result["errors"]} == {
        teli_source_name(t) for t in dataset.teli_tenants
    }


async def test_discovery_failure_of_one_source_lists_the_others_and_names_it(
    sandbox: SandboxServer, dataset: Dataset, directory_file: Path
) -> None:
    sandbox.control.inject(vendor="teli", status=503)
    settings = tuned_sandbox_settings(sandbox, directory_file, FAST)
    teli_sources = sorted(teli_source_name(t) for t in dataset.teli_tenants)
    async with open_graph(settings) as run:
        result = await run(
            """
            {
              resellers { id sources { source } }
              organizations { id sources { source } }
              sources { name lastErrorCode lastError lastSuccess }
            }
            """
        )
    data = result["data"]
    # the lists still answer, and each says what it leaves out: the Teli tenants' entities
    errors = {tuple(e["path"]): e for e in result["errors"]}
    assert set(errors) == {("resellers",), ("organizations",)}
    for error in errors.values():
        assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        assert error["extensions"]["source"] == teli_sources[0]
        assert error["extensions"]["sources"] == teli_sources
        assert "leaves out" in error["message"] and "teli-sandbox-key" not in error["message"]
    expected_orgs = {
        organization_id_of(dataset, c)
        for c in dataset.customer_names
        if any(p.kind != "TELI" for p in customer_parts(dataset, c))
    }
    assert {o["id"] for o in data["organizations"]} == expected_orgs
    # an organization the directory links to a Teli org keeps that part: its usage names Teli
    linked = {o["id"]: {s["source"] for s in o["sources"]} for o in data["organizations"]}
    assert "teli-northwind" in linked["cust0000"]
    assert {r["id"] for r in data["resellers"]} == set(dataset.channel_names)
    statuses = {s["name"]: s for s in data["sources"]}
    for name, status in statuses.items():
        if name.startswith("teli-"):
            assert status["lastErrorCode"] == "UPSTREAM_UNAVAILABLE"
            assert status["lastSuccess"] is None
            assert "503" in status["lastError"] and "teli-sandbox-key" not in status["lastError"]
        else:
            assert status["lastErrorCode"] is None and status["lastSuccess"] is not None


async def test_an_undiscovered_source_fails_the_usage_it_measures_without_a_call(
    sandbox: SandboxServer, dataset: Dataset, directory_file: Path
) -> None:
    sandbox.control.inject(vendor="teli", status=503)
    first, last = last_full_month(dataset)
    query = """
    query ($first: Date!, $last: Date!) {
      reseller(id: "northwind") {
        usage(range: {firstDay: $first, lastDay: $last}) {
          voice { seconds } costs { amount currency }
          coverage { complete sources { source status reason } }
        }
      }
    }
    """
    settings = tuned_sandbox_settings(sandbox, directory_file, FAST)
    async with open_graph(settings) as run:
        await run("{ resellers { id } }")  # discovery fails here
        sandbox.control.reset()
        result = await run(query, {"first": str(first), "last": str(last)})
        teli_calls = [r for r in sandbox.control.requests if r.vendor == "teli"]
    usage = result["data"]["reseller"]["usage"]
    # Teli measures voice and costs: both null, with the discovery's failure, not a short sum
    assert usage["voice"] is None and usage["costs"] is None
    assert {tuple(e["path"][-1:]) for e in result["errors"]} == {("voice",), ("costs",)}
    assert {e["extensions"]["source"] for e in result["errors"]} == {"teli-northwind"}
    coverage = {s["source"]: s for s in usage["coverage"]["sources"]}
    assert coverage["teli-northwind"]["status"] == "MISSING"
    assert coverage["teli-northwind"]["reason"] == "UPSTREAM_FAILED"
    assert usage["coverage"]["complete"] is False
    assert teli_calls == []  # the failed discovery stands for the source until it is retried


async def test_telzino_discovery_failure_keeps_teli_and_talkdesk_and_names_telzino(
    sandbox: SandboxServer, dataset: Dataset, directory_file: Path
) -> None:
    sandbox.control.inject(mount="telzino-api", path="/v1/reports", status=503)
    settings = tuned_sandbox_settings(sandbox, directory_file, FAST)
    async with open_graph(settings) as run:
        result = await run(
            '{ organizations { id } agents: organization(id: "cust0000") { agents { id } } }'
        )
    expected = {
        organization_id_of(dataset, c)
        for c in dataset.customer_names
        if any(p.kind != "TELZINO" for p in customer_parts(dataset, c))
    }
    assert {o["id"] for o in result["data"]["organizations"]} == expected
    assert result["data"]["agents"]["agents"] == []
    errors = {tuple(e["path"]): e["extensions"] for e in result["errors"]}
    assert errors == {
        ("organizations",): {"code": "UPSTREAM_UNAVAILABLE", "source": "telzino"},
        ("agents", "agents"): {"code": "UPSTREAM_UNAVAILABLE", "source": "telzino"},
    }


async def test_one_organizations_users_failing_nulls_only_those_users(
    fast_graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await fast_graph("{ resellers { id } }")  # catalog only: users are discovered on demand
    broken = next(o for o in dataset.teli_orgs.values() if o.customer == "cust0000")
    sandbox.control.inject(path=f"/v1/organizations/{broken.unique_id}/users", status=503)
    query = """
    query ($first: Date!, $last: Date!) {
      organizations {
        id
        usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } }
        users { id }
      }
    }
    """
    result = await fast_graph(query, {"first": str(first), "last": str(last)})
    assert result["data"] is not None, result
    orgs = {o["id"]: o for o in result["data"]["organizations"]}
    assert orgs["cust0000"]["users"] is None
    index = list(orgs).index("cust0000")
    (error,) = result["errors"]
    assert error["path"] == ["organizations", index, "users"]
    assert error["extensions"] == {"code": "UPSTREAM_UNAVAILABLE", "source": "teli-northwind"}
    # everything else is there: cust0000's usage, and every other organization's users
    voice = dataset.telzino_org_seconds(str(ids(dataset, "cust0000")["telzino"]), first, last)
    assert orgs["cust0000"]["usage"]["voice"]["seconds"] >= voice
    for tenant in dataset.teli_tenants:
        for org in tenant.organizations:
            if org is broken:
                continue
            got = orgs[organization_id_of(dataset, org.customer)]["users"]
            assert sorted(u["id"] for u in got) == sorted(
                f"{teli_source_name(tenant)}:{u.unique_id}" for u in org.users
            )


async def test_ranking_agents_when_telzino_fails_nulls_only_the_agents(
    fast_graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    await fast_graph("{ resellers { id } }")
    sandbox.control.inject(mount="telzino-api", path="/v1/reports", status=503)
    query = """
    query ($first: Date!, $last: Date!) {
      organization(id: "cust0000") {
        id
        agents(rankedBy: {firstDay: $first, lastDay: $last}, first: 2) { id }
        usage(range: {firstDay: $first, lastDay: $last}) { sms { outboundSegments } }
      }
    }
    """
    result = await fast_graph(query, {"first": str(first), "last": str(last)})
    org = result["data"]["organization"]
    assert org is not None, result
    assert org["agents"] is None
    teli = teli_org_truth(dataset, str(ids(dataset, "cust0000")["teli-northwind"]), first, last)
    rows = dataset.talkdesk_rows(
        [str(ids(dataset, "cust0000")["talkdesk-northwind"])], [first.strftime("%Y-%m")]
    )
    talkdesk_out = talkdesk_truth(rows).sms_out
    assert org["usage"]["sms"] == {"outboundSegments": teli.sms_out + talkdesk_out}
    (error,) = result["errors"]
    assert error["path"] == ["organization", "agents"]
    # every agent failed on the same source: one source named, no list
    assert error["extensions"] == {"code": "UPSTREAM_UNAVAILABLE", "source": "telzino"}


async def test_a_user_lookup_whose_source_fails_names_code_and_source(
    fast_graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    await fast_graph("{ resellers { id } }")
    tenant = dataset.teli_tenants[0]
    user = tenant.organizations[0].users[0]
    sandbox.control.inject(vendor="teli", path="/v1/organizations/", status=503)
    result = await fast_graph(
        "query ($id: ID!) { user(id: $id) { id } }",
        {"id": f"{teli_source_name(tenant)}:{user.unique_id}"},
    )
    assert result["data"] == {"user": None}
    (error,) = result["errors"]
    assert error["path"] == ["user"]
    assert error["extensions"] == {
        "code": "UPSTREAM_UNAVAILABLE",
        "source": teli_source_name(tenant),
    }
    assert teli_source_name(tenant) in error["message"] and "503" in error["message"]


async def test_a_figure_two_failed_sources_measure_names_both(
    fast_graph: GraphQuery, sandbox: SandboxServer, dataset: Dataset
) -> None:
    await fast_graph("{ resellers { id } }")
    sandbox.control.inject(vendor="teli", status=503)
    sandbox.control.inject(mount="talkdesk", path="/express/usage", status=503)
    result = await run_usage(fast_graph, dataset, "cust0000")
    usage = result["data"]["organization"]["usage"]
    assert usage["costs"] is None and usage["mms"] is None
    errors = errors_by_path(result)
    costs = errors[("organization", "usage", "costs")]["extensions"]
    assert costs["code"] == "UPSTREAM_UNAVAILABLE"
    assert costs["sources"] == ["talkdesk-northwind", "teli-northwind"]
    assert costs["source"] in costs["sources"]
    # MMS is Teli's alone
    assert errors[("organization", "usage", "mms")]["extensions"] == {
        "code": "UPSTREAM_UNAVAILABLE",
        "source": "teli-northwind",
    }


async def test_a_slow_source_times_out_and_a_garbled_one_breaks_contract(
    sandbox: SandboxServer, dataset: Dataset, directory_file: Path
) -> None:
    tuned = {**FAST, "timeout_read": 0.2}
    async with open_graph(tuned_sandbox_settings(sandbox, directory_file, tuned)) as run:
        await run("{ resellers { id } }")
        sandbox.control.inject(vendor="teli", path="/v1/analytics", latency_ms=700)
        sandbox.control.inject(mount="talkdesk", path="/express/usage", malformed=True)
        result = await run_usage(run, dataset, "cust0000")
    errors = errors_by_path(result)
    assert errors[("organization", "usage", "mms")]["extensions"] == {
        "code": "UPSTREAM_TIMEOUT",
        "source": "teli-northwind",
    }
    shares = {s["source"]: s for s in result["data"]["organization"]["usage"]["bySource"]}
    assert shares["talkdesk-northwind"]["costs"] is None
    talkdesk = next(
        e
        for e in result["errors"]
        if e["path"][:3] == ["organization", "usage", "bySource"]
        and e["extensions"]["source"] == "talkdesk-northwind"
    )
    assert talkdesk["extensions"]["code"] == "UPSTREAM_CONTRACT"
    # Telzino answered: its share is exact
    first, last = last_full_month(dataset)
    telzino = telzino_org_truth(dataset, str(ids(dataset, "cust0000")["telzino"]), first, last)
    assert shares["telzino"]["voice"] == {"seconds": telzino.seconds}
