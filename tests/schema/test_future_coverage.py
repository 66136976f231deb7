"""Coverage never claims the future: days after today (UTC) are nobody's figures yet.

A range that reaches past today is covered up to today (PARTIAL / NOT_YET_REPORTED) and is not
complete; a range wholly ahead is left out without a call; such ranges are cached as live.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tests.fixtures.graph import GraphQuery
from tests.fixtures.truth import teli_org_truth, telzino_org_truth
from usagegraph.resolvers.cache import TtlClass, ttl_class
from usagegraph.resolvers.ranges import DayRange, month_range
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer

QUERY = """
query ($id: ID!, $first: Date!, $last: Date!, $partial: PartialMonths!) {
  organization(id: $id) {
    usage(range: {firstDay: $first, lastDay: $last}, partialMonths: $partial) {
      voice { seconds }
      coverage { complete sources { source status reason firstDay lastDay } }
    }
    agents {
      usage(range: {firstDay: $first, lastDay: $last}) {
        voice { seconds }
        coverage { complete sources { status reason lastDay } }
      }
    }
  }
}
"""


def today() -> date:
    return datetime.now(UTC).date()


def org_ids(dataset: Dataset, customer: str) -> tuple[str, str]:
    telzino = next(o.id for o in dataset.telzino_orgs if o.customer == customer)
    teli = next(o.unique_id for o in dataset.teli_orgs.values() if o.customer == customer)
    return telzino, teli


async def test_a_range_past_today_is_covered_up_to_today_only(
    graph: GraphQuery, dataset: Dataset
) -> None:
    first, last = today() - timedelta(days=5), today() + timedelta(days=10)
    variables = {"id": "cust0000", "first": str(first), "last": str(last), "partial": "EXCLUDE"}
    result = await graph(QUERY, variables)
    assert "errors" not in result, result
    usage = result["data"]["organization"]["usage"]
    telzino, teli = org_ids(dataset, "cust0000")
    expected = (
        telzino_org_truth(dataset, telzino, first, today()).seconds
        + teli_org_truth(dataset, teli, first, today()).voice_seconds
    )
    assert usage["voice"]["seconds"] == expected
    sources = {s["source"]: s for s in usage["coverage"]["sources"]}
    for name in ("telzino", "teli-northwind"):
        assert sources[name] == {
            "source": name,
            "status": "PARTIAL",
            "reason": "NOT_YET_REPORTED",
            "firstDay": str(first),
            "lastDay": str(today()),
        }
    assert sources["talkdesk-northwind"]["status"] == "MISSING"  # not whole months
    assert usage["coverage"]["complete"] is False
    for agent in result["data"]["organization"]["agents"]:
        coverage = agent["usage"]["coverage"]
        assert coverage["complete"] is False
        assert coverage["sources"] == [
            {"status": "PARTIAL", "reason": "NOT_YET_REPORTED", "lastDay": str(today())}
        ]


async def test_whole_months_reaching_past_today_stop_at_today_too(graph: GraphQuery) -> None:
    month = month_range(today())
    variables = {
        "id": "cust0000",
        "first": str(month.first),
        "last": str(month.last),
        "partial": "EXCLUDE",
    }
    usage = (await graph(QUERY, variables))["data"]["organization"]["usage"]
    statuses = {s["source"]: (s["status"], s["lastDay"]) for s in usage["coverage"]["sources"]}
    # the current month is whole months, so Talkdesk counts, but only up to today as well
    partial = ("PARTIAL", str(today())) if month.last > today() else ("EXACT", str(today()))
    assert statuses == dict.fromkeys(("telzino", "teli-northwind", "talkdesk-northwind"), partial)
    assert usage["coverage"]["complete"] is (month.last == today())


async def test_a_range_wholly_ahead_is_left_out_without_a_call(
    graph: GraphQuery, sandbox: SandboxServer
) -> None:
    await graph("{ resellers { id } }")  # discovery first, so what follows is usage only
    sandbox.control.reset()
    # two days are never whole months, so Talkdesk is out whatever the date
    first, last = today() + timedelta(days=1), today() + timedelta(days=2)
    variables = {"id": "cust0000", "first": str(first), "last": str(last), "partial": "EXCLUDE"}
    result = await graph(QUERY, variables)
    assert "errors" not in result, result
    usage = result["data"]["organization"]["usage"]
    assert usage["voice"] is None  # nobody has figures for those days: unknown, not 0
    coverage = usage["coverage"]
    assert coverage["complete"] is False
    reasons = {s["source"]: (s["status"], s["reason"], s["lastDay"]) for s in coverage["sources"]}
    assert reasons == {
        "telzino": ("MISSING", "NOT_YET_REPORTED", None),
        "teli-northwind": ("MISSING", "NOT_YET_REPORTED", None),
        "talkdesk-northwind": ("MISSING", "GRANULARITY_TOO_COARSE", None),
    }
    assert sandbox.control.requests == []


def test_ranges_reaching_past_today_are_cached_as_live() -> None:
    now = today()
    assert ttl_class(DayRange(now - timedelta(days=5), now + timedelta(days=10)), now) is (
        TtlClass.LIVE
    )
    assert ttl_class(DayRange(now + timedelta(days=1), now + timedelta(days=2)), now) is (
        TtlClass.LIVE
    )
    assert ttl_class(DayRange(now - timedelta(days=5), now - timedelta(days=1)), now) is (
        TtlClass.PAST
    )
