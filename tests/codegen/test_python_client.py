"""The Python client ariadne-codegen generates from schema.graphql and examples/operations
(examples/clients/python/ariadne-codegen.toml), used against a running `usagegraph serve`:
typed results (Decimal money and minutes, date days, enums) with the dataset's exact values.
`make test-clients` installs ariadne-codegen in examples/clients/python/.venv; this test runs it.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.codegen.ranking import by_cost
from tests.fixtures.serve import serve_usagegraph
from tests.fixtures.truth import (
    customer_parts,
    expected_customer,
    last_full_month,
    organization_id_of,
    telzino_minutes,
)
from usagegraph.sandbox.dataset import Dataset

pytestmark = pytest.mark.codegen

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "examples" / "clients" / "python"
ARIADNE = HERE / ".venv" / "bin" / "ariadne-codegen"
PACKAGE = "usagegraph_client"


@pytest.fixture(scope="module")
def client_module() -> Iterator[ModuleType]:
    """Generate the client afresh (from the committed schema.graphql) and import it."""
    if not ARIADNE.is_file():
        pytest.fail("ariadne-codegen is not installed: run `make test-clients`")
    done = subprocess.run(
        [str(ARIADNE), "--config", "ariadne-codegen.toml", "client"],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(HERE))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(HERE))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_usagegraph(tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield f"{base}/graphql"


def client(module: ModuleType, url: str) -> Any:
    return module.UsageGraphClient(url=url)


def customers_by_org_id(ds: Dataset) -> dict[str, str]:
    return {organization_id_of(ds, c): c for c in ds.customer_names if customer_parts(ds, c)}


async def test_reseller_overview_is_typed_and_exact(
    client_module: ModuleType, server: str, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    customers = customers_by_org_id(dataset)

    async with client(client_module, server) as api:
        overview = await api.reseller_overview(first_day=first, last_day=last)

    assert isinstance(overview, client_module.ResellerOverview)
    assert {r.id for r in overview.resellers} == {"northwind", "southpoint", "eastgate"}
    for reseller in overview.resellers:
        seconds = 0
        for org in reseller.organizations:
            truth = expected_customer(dataset, customers[org.id], first, last)
            seconds += truth.voice_seconds
            assert org.usage.voice is not None
            assert isinstance(org.usage.voice.minutes, Decimal)
            assert org.usage.voice.minutes == telzino_minutes(truth.voice_seconds)
            costs = {c.currency: c.amount for c in org.usage.costs or ()}
            assert all(isinstance(a, Decimal) for a in costs.values())
            assert costs == (truth.costs if truth.measured_costs else {})
        assert reseller.usage.voice is not None
        assert reseller.usage.voice.minutes == telzino_minutes(seconds)
    acme = next(o for r in overview.resellers for o in r.organizations if o.id == "cust0000")
    assert acme.name == "Acme Solar"
    assert acme.usage.sms is not None and acme.usage.sms.outbound_segments is not None


async def test_top_agents_are_ranked_with_exact_seconds(
    client_module: ModuleType, server: str, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)

    async with client(client_module, server) as api:
        top = await api.top_agents(organization="cust0000", first_day=first, last_day=last, top=3)

    assert top.organization is not None
    agents = top.organization.agents
    assert agents is not None and len(agents) == 3
    seconds = [a.usage.voice.seconds for a in agents if a.usage.voice is not None]
    expected = [dataset.telzino_agent_seconds(a.id.partition(":")[2], first, last) for a in agents]
    assert seconds == expected == sorted(expected, reverse=True)
    assert all(isinstance(s, int) for s in seconds)


async def test_partial_month_coverage_parses_enums_and_dates(
    client_module: ModuleType, server: str, dataset: Dataset
) -> None:
    month_first, _ = last_full_month(dataset)
    first, last = month_first + timedelta(days=4), month_first + timedelta(days=19)
    enums = importlib.import_module(f"{PACKAGE}.enums")

    async with client(client_module, server) as api:
        coverage = await api.partial_month_coverage(
            organization="cust0000", first_day=first, last_day=last
        )

    org = coverage.organization
    assert org is not None
    exact = {s.source: s for s in org.exact.coverage.sources}
    whole = {s.source: s for s in org.whole_months.coverage.sources}
    assert exact["talkdesk-northwind"].status is enums.CoverageStatus.MISSING
    assert exact["talkdesk-northwind"].reason is enums.CoverageReason.GRANULARITY_TOO_COARSE
    expanded = whole["talkdesk-northwind"]
    assert expanded.status is enums.CoverageStatus.EXPANDED
    assert isinstance(expanded.first_day, date)
    assert (expanded.first_day, expanded.last_day) == last_full_month(dataset)
    truth = expected_customer(dataset, "cust0000", first, last)
    assert org.exact.voice is not None and org.exact.voice.seconds == truth.voice_seconds


async def test_an_unknown_organization_is_none(client_module: ModuleType, server: str) -> None:
    async with client(client_module, server) as api:
        lifetime = await api.lifetime_usage(organization="no-such-organization")

    assert lifetime.organization is None


async def test_top_organizations_by_cost_page_twice_with_the_cursor(
    client_module: ModuleType, server: str, dataset: Dataset
) -> None:
    first, last = last_full_month(dataset)
    truth = by_cost(dataset)

    async with client(client_module, server) as api:
        one = await api.top_organizations_by_cost(first_day=first, last_day=last)
        cursor = one.organizations_connection.page_info.end_cursor
        assert isinstance(cursor, str)
        two = await api.top_organizations_by_cost(first_day=first, last_day=last, after=cursor)

    pages = [one.organizations_connection, two.organizations_connection]
    assert [p.total_count for p in pages] == [20, 20]
    assert [p.page_info.has_next_page for p in pages] == [True, False]
    nodes = [node for page in pages for node in page.nodes]
    assert [n.id for n in nodes] == [org_id for org_id, _ in truth]
    for node, (_, expected) in zip(nodes, truth, strict=True):
        costs = {c.currency: c.amount for c in node.usage.costs or ()}
        assert all(isinstance(a, Decimal) for a in costs.values())
        assert costs == (expected.costs if expected.measured_costs else {})
