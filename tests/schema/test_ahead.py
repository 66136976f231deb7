"""Organization usage resolved ahead for whole lists (schema/ahead.py) answers exactly what the
per-organization resolver answers, with the same upstream calls, and is the path lists take."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.dashboards import warm
from tests.fixtures.graph import GraphQuery, open_graph, sandbox_settings
from tests.fixtures.truth import expected_customer, last_full_month
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer
from usagegraph.schema import entities as schema_entities
from usagegraph.schema import schema as graph_schema

# two ranges by alias, one through a fragment, one through an inline fragment
QUERY = """
query ($first: Date!, $last: Date!, $month: Date!) {
  resellers {
    id
    organizations {
      id
      whole: usage(range: {firstDay: $first, lastDay: $last}) { ...Figures }
      ...Early
    }
  }
  organizations {
    id
    ... on Organization { whole: usage(range: {firstDay: $first, lastDay: $last}) { ...Figures } }
  }
}
fragment Early on Organization {
  early: usage(range: {firstDay: $first, lastDay: $month}, partialMonths: WHOLE_MONTHS) {
    ...Figures coverage { complete }
  }
}
fragment Figures on Usage { voice { seconds } sms { outboundSegments } costs { amount currency } }
"""


def one_by_one(query: str) -> str:
    """The same query, with every usage field under a directive: lists leave it alone."""
    return query.replace("{ ...Figures }", "@include(if: true) { ...Figures }").replace(
        "partialMonths: WHOLE_MONTHS)", "partialMonths: WHOLE_MONTHS) @include(if: true)"
    )


@pytest.fixture
def per_organization_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Organizations whose usage went through the ordinary per-organization resolver."""
    seen: list[str] = []
    original = schema_entities.organization_usage

    async def counting(ctx: Any, node: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(node.id)
        return await original(ctx, node, *args, **kwargs)

    monkeypatch.setattr(schema_entities, "organization_usage", counting)
    return seen


def test_every_organization_list_is_resolved_ahead() -> None:
    assert sorted(graph_schema.ahead_fields) == [
        "OrganizationConnection.nodes",  # a page's nodes (edges hold one organization each)
        "Query.organizations",
        "Reseller.organizations",
    ]


async def test_ahead_answers_and_calls_equal_one_by_one(
    sandbox: SandboxServer,
    dataset: Dataset,
    directory_file: Path,
    per_organization_calls: list[str],
) -> None:
    first, last = last_full_month(dataset)
    variables = {"first": str(first), "last": str(last), "month": str(first.replace(day=10))}
    # no response cache, so the second query calls the vendors again and can be counted
    settings = sandbox_settings(sandbox, directory_file, cache={"enabled": False})
    async with open_graph(settings) as graph:
        await warm(graph, sandbox)
        ahead = await graph(QUERY, variables)
        ahead_calls = sorted((r.mount, r.path, str(r.params)) for r in sandbox.control.requests)
        assert per_organization_calls == []  # every usage came from the lists' look-ahead
        sandbox.control.reset()
        usual = await graph(one_by_one(QUERY), variables)
        usual_calls = sorted((r.mount, r.path, str(r.params)) for r in sandbox.control.requests)

    assert "errors" not in ahead, ahead
    assert "errors" not in usual, usual
    organizations = len(ahead["data"]["organizations"])
    # 3 usage fields per organization: whole under resellers, early, whole at the root
    assert len(per_organization_calls) == 3 * organizations

    assert ahead == usual
    assert ahead_calls == usual_calls
    orgs = {o["id"]: o for o in ahead["data"]["organizations"]}
    exp = expected_customer(dataset, "cust0000", first, last)
    assert orgs["cust0000"]["whole"]["voice"]["seconds"] == exp.voice_seconds


async def test_a_range_too_long_is_refused_once_before_anything_runs(
    graph: GraphQuery, sandbox: SandboxServer
) -> None:
    sandbox.control.reset()
    result = await graph(
        '{ organizations { id usage(range: {firstDay: "2020-01-01", lastDay: "2026-01-01"}) '
        "{ voice { seconds } } } }"
    )
    # schema/arguments.py: one error for the field, not one per organization
    assert result["data"] is None
    [error] = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["at"] == ["organizations", "usage"]
    assert "2193 days" in error["message"]
    assert sandbox.control.count() == 0
