"""The composed sandbox: self-description, recorder and fault injection over real HTTP."""

from __future__ import annotations

import httpx

from usagegraph.sandbox.server import SandboxServer, sources_toml


def test_root_describes_every_vendor_as_source_entries(sandbox: SandboxServer) -> None:
    body = httpx.get(f"{sandbox.base_url}/").json()
    kinds = sorted({s["kind"] for s in body["sources"]})
    assert kinds == ["talkdesk", "teli", "telzino"]
    names = [s["name"] for s in body["sources"]]
    assert names == [
        "telzino",
        "teli-northwind",
        "teli-southpoint",
        "talkdesk-northwind",
        "talkdesk-southpoint",
        "talkdesk-eastgate",
    ]
    assert body["sources"][0]["reports_url"] == f"{sandbox.base_url}/telzino-api"
    assert body["dataset"]["seed"] == 7


def test_teli_sources_name_both_hosts(sandbox: SandboxServer) -> None:
    teli = [s for s in httpx.get(f"{sandbox.base_url}/").json()["sources"] if s["kind"] == "teli"]
    assert teli
    for source in teli:
        assert source["base_url"] == f"{sandbox.base_url}/teli"
        assert source["usage_url"] == f"{sandbox.base_url}/teli-proxy"
    assert sources_toml(sandbox.dataset, sandbox.base_url).count(
        f'usage_url = "{sandbox.base_url}/teli-proxy"'
    ) == len(teli)


def test_control_endpoints_inject_faults_and_count_requests(sandbox: SandboxServer) -> None:
    url = f"{sandbox.base_url}/_control/faults"
    response = httpx.post(url, json={"vendor": "teli", "status": 503, "retry_after": 2, "times": 1})
    assert response.status_code == 201
    first = httpx.get(f"{sandbox.base_url}/teli/v1/organizations")
    assert first.status_code == 503
    assert first.headers["retry-after"] == "2"
    assert first.json() == {"success": False, "error": "Injected fault", "powered_by": "Teli"}
    assert sandbox.control.count("teli", path="/v1/organizations") == 1
    recorded = httpx.get(f"{sandbox.base_url}/_control/requests").json()["requests"]
    assert recorded[-1]["mount"] == "teli"
    assert recorded[-1]["path"] == "/v1/organizations"


def test_malformed_fault_answers_200_with_a_broken_body(sandbox: SandboxServer) -> None:
    sandbox.control.inject(mount="telzino-dashboard", malformed=True)
    response = httpx.get(f"{sandbox.base_url}/telzino-dashboard/v1/billing-report")
    assert response.status_code == 200
    assert response.text.startswith('{"data": [')
    assert sandbox.control.count(mount="telzino-dashboard") == 1
