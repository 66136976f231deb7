"""The README's example operations: identical to examples/operations and correct on the sandbox."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.fixtures.graph import GraphQuery
from tests.fixtures.truth import expected_customer, last_full_month
from usagegraph.sandbox.dataset import Dataset

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "examples" / "operations"
BLOCK = re.compile(
    r"```graphql\n((?:#[^\n]*\n)*query (\w+).*?)```\n\nVariables:\n\n```json\n(.*?)\n```", re.S
)


def readme_operations() -> dict[str, tuple[str, dict]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return {m[2]: (m[1], json.loads(m[3])) for m in BLOCK.finditer(text)}


def test_readme_shows_every_example_operation_verbatim() -> None:
    shown = readme_operations()
    files = {p.stem: p.read_text(encoding="utf-8") for p in OPERATIONS.glob("*.graphql")}
    assert sorted(shown) == sorted(files)
    for name, (text, _variables) in shown.items():
        assert text == files[name], f"README and examples/operations/{name}.graphql differ"


def variables_for(name: str, readme_variables: dict, ds: Dataset) -> dict:
    """The README's variables, with dates moved into the dataset's last full month."""
    first, last = last_full_month(ds)
    if name == "PartialMonthCoverage":
        first, last = first + timedelta(days=4), first + timedelta(days=19)
    variables = dict(readme_variables)
    if "firstDay" in variables:
        variables.update(firstDay=str(first), lastDay=str(last))
    return variables


@pytest.mark.parametrize("name", sorted(p.stem for p in OPERATIONS.glob("*.graphql")))
async def test_example_operation_answers_without_errors(
    name: str, graph: GraphQuery, dataset: Dataset
) -> None:
    text, readme_variables = readme_operations()[name]
    result = await graph(text, variables_for(name, readme_variables, dataset))
    assert "errors" not in result, result.get("errors")
    assert result["data"]


async def test_partial_month_example_shows_both_policies(
    graph: GraphQuery, dataset: Dataset
) -> None:
    text, readme_variables = readme_operations()["PartialMonthCoverage"]
    variables = variables_for("PartialMonthCoverage", readme_variables, dataset)
    org = (await graph(text, variables))["data"]["organization"]
    first, last = variables["firstDay"], variables["lastDay"]
    exact = expected_customer(dataset, "cust0000", *map(_date, (first, last)))
    whole = expected_customer(dataset, "cust0000", *map(_date, (first, last)), whole_months=True)
    assert org["exact"]["voice"]["seconds"] == exact.voice_seconds
    assert org["wholeMonths"]["voice"]["seconds"] == whole.voice_seconds
    assert whole.voice_seconds > exact.voice_seconds
    statuses = {s["source"]: s["status"] for s in org["wholeMonths"]["coverage"]["sources"]}
    assert statuses["talkdesk-northwind"] == "EXPANDED"


async def test_reseller_overview_example_reconciles(graph: GraphQuery, dataset: Dataset) -> None:
    text, readme_variables = readme_operations()["ResellerOverview"]
    data = (await graph(text, variables_for("ResellerOverview", readme_variables, dataset)))["data"]
    for reseller in data["resellers"]:
        orgs = [o["usage"]["voice"]["minutes"] for o in reseller["organizations"]]
        total = Decimal(reseller["usage"]["voice"]["minutes"])
        # minutes are rounded per node, so the sum of rounded org minutes is within a cent each
        assert abs(total - sum(map(Decimal, orgs))) <= Decimal("0.01") * len(orgs)


def _date(text: str) -> date:
    return date.fromisoformat(text)
