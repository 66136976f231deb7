"""A source down at start-up is never silently absent: every list or lookup that could have shown
its entities answers the others and names it, once, at its own path, to whoever may see it."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.auth import ask, auth_settings, client_for, started
from tests.fixtures.graph import open_graph, tuned_sandbox_settings
from tests.fixtures.truth import customer_parts
from usagegraph.sandbox.dataset import Dataset
from usagegraph.sandbox.server import SandboxServer

FAST = {"max_attempts": 1, "timeout_total": 5.0}
UNAVAILABLE = {"code": "UPSTREAM_UNAVAILABLE", "source": "teli-northwind"}


def teli_only_customer(dataset: Dataset, source: str) -> tuple[str, str]:
    """(customer, Teli unique_id) of an organization only `source` knows (not in the directory)."""
    for customer in dataset.customer_names:
        parts = customer_parts(dataset, customer)
        if len(parts) == 1 and parts[0].source == source:
            return customer, parts[0].native_id or ""
    raise AssertionError(f"the dataset has no organization only {source} knows")


async def test_lookups_of_what_only_a_failed_source_knows_say_so(
    sandbox: SandboxServer, dataset: Dataset, directory_file: Path
) -> None:
    sandbox.control.inject(mount="teli", status=503)
    _, unique_id = teli_only_customer(dataset, "teli-northwind")
    telzino_org = next(o.id for o in dataset.telzino_orgs)
    query = f"""
    {{
      lost: organization(id: "teli-northwind:{unique_id}") {{ id }}
      user(id: "teli-northwind:1760000000000x1") {{ id }}
      unknownTelzino: organization(id: "telzino:no-such-org") {{ id }}
      known: organization(id: "telzino:{telzino_org}") {{ id }}
      byIds: organizations(ids: ["teli-northwind:{unique_id}", "telzino:{telzino_org}"]) {{ id }}
      northwind: reseller(id: "northwind") {{ organizations {{ id }} }}
      eastgate: reseller(id: "eastgate") {{ organizations {{ id }} }}
    }}
    """
    async with open_graph(tuned_sandbox_settings(sandbox, directory_file, FAST)) as run:
        result = await run(query)
    data = result["data"]
    assert data["lost"] is None and data["user"] is None and data["unknownTelzino"] is None
    assert data["known"] is not None and len(data["byIds"]) == 1
    errors = {tuple(e["path"]): e["extensions"] for e in result["errors"]}
    # an unknown Telzino id is just unknown: Telzino answered
    assert errors == {
        ("lost",): UNAVAILABLE,
        ("user",): UNAVAILABLE,
        ("byIds",): UNAVAILABLE,
        ("northwind", "organizations"): UNAVAILABLE,
    }
    assert data["eastgate"]["organizations"]  # eastgate has no Teli tenant: nothing left out


async def test_entities_of_a_failed_source_are_null_with_one_error(
    sandbox: SandboxServer, dataset: Dataset, directory_file: Path
) -> None:
    sandbox.control.inject(mount="teli", status=503)
    _, unique_id = teli_only_customer(dataset, "teli-northwind")
    query = """
    query ($reps: [_Any!]!) { _entities(representations: $reps) { ... on Organization { id } } }
    """
    reps = [
        {"__typename": "Organization", "id": f"teli-northwind:{unique_id}"},
        {"__typename": "Organization", "id": f"teli-northwind:{unique_id}x"},
        {"__typename": "Organization", "id": "cust0000"},
    ]
    async with open_graph(tuned_sandbox_settings(sandbox, directory_file, FAST)) as run:
        result = await run(query, {"reps": reps})
    assert result["data"]["_entities"] == [None, None, {"id": "cust0000"}]
    assert [(e["path"], e["extensions"]) for e in result["errors"]] == [
        (["_entities"], UNAVAILABLE)
    ]


async def test_a_scoped_key_hears_only_of_the_failed_sources_of_its_resellers(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    sandbox.control.inject(vendor="teli", status=503)  # both Teli tenants
    settings = auth_settings(sandbox, directory_file)
    async with started(settings) as app, client_for(app) as client:
        northwind = await ask(client, "northwind", "{ resellers { id } organizations { id } }")
        eastgate = await ask(client, "eastgate", "{ resellers { id } organizations { id } }")
    assert {tuple(e["path"]): e["extensions"]["source"] for e in northwind["errors"]} == {
        ("resellers",): "teli-northwind",
        ("organizations",): "teli-northwind",
    }
    assert all("southpoint" not in e["message"] for e in northwind["errors"])
    assert "errors" not in eastgate  # its reseller has no Teli part at all
