"""Variants: the in-process switches, the /_control/variants API and the vendor-down variants."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from usagegraph.sandbox import control as control_module
from usagegraph.sandbox.control import SEEN_LIMIT, VARIANTS, SandboxControl
from usagegraph.sandbox.dataset import TELZINO_CLIENT_ID, TELZINO_CLIENT_SECRET
from usagegraph.sandbox.server import SandboxServer

# every variant the brief defines, by exact name
EXPECTED_NAMES = {
    "talkdesk-capped-pages",
    "talkdesk-top-level-links",
    "talkdesk-empty-without-embedded",
    "talkdesk-null-texts",
    "talkdesk-total-drift",
    "talkdesk-unmapped-units",
    "teli-no-cost-breakdown",
    "teli-no-total-cost",
    "teli-split-hosts",
    "telzino-billing-unpadded-period",
    "telzino-unlisted-agent-minutes",
    "telzino-down",
    "teli-down",
    "talkdesk-down",
}


def variants_url(sandbox: SandboxServer) -> str:
    return f"{sandbox.base_url}/_control/variants"


# -- in-process -----------------------------------------------------------------------------------


def test_known_variants_are_exactly_the_documented_ones_each_with_a_description() -> None:
    assert set(VARIANTS) == EXPECTED_NAMES
    for description in VARIANTS.values():
        assert description and "\n" not in description


def test_enable_and_disable_change_the_read_only_active_set() -> None:
    control = SandboxControl()
    assert control.variants == frozenset()
    control.enable("talkdesk-top-level-links", "teli-down")
    assert control.variants == {"talkdesk-top-level-links", "teli-down"}
    control.disable("teli-down", "telzino-down")  # an inactive one is fine
    assert control.variants == {"talkdesk-top-level-links"}
    assert isinstance(control.variants, frozenset)  # a view, not a handle on the state


def test_an_unknown_name_is_a_value_error_and_changes_nothing() -> None:
    control = SandboxControl()
    control.enable("teli-down")
    with pytest.raises(ValueError, match=r"unknown variant.*no-such-variant.*known: "):
        control.enable("talkdesk-down", "no-such-variant")
    with pytest.raises(ValueError, match="no-such-variant"):
        control.disable("no-such-variant")
    assert control.variants == {"teli-down"}


def test_a_name_both_enabled_and_disabled_is_refused() -> None:
    control = SandboxControl()
    with pytest.raises(ValueError, match="both enabled and disabled: teli-down"):
        control.update_variants(enable=["teli-down"], disable=["teli-down"])
    assert control.variants == frozenset()


def test_reset_clears_variants_and_their_memory() -> None:
    control = SandboxControl()
    control.enable("talkdesk-total-drift")
    assert control.first_sight("talkdesk-total-drift", "q") is True
    assert control.first_sight("talkdesk-total-drift", "q") is False
    control.reset()
    assert control.variants == frozenset()
    assert control.first_sight("talkdesk-total-drift", "q") is True


def test_switching_a_variant_on_again_starts_its_memory_afresh() -> None:
    control = SandboxControl()
    control.enable("talkdesk-total-drift")
    control.first_sight("talkdesk-total-drift", "q")
    control.enable("talkdesk-total-drift")  # already on: the memory stays
    assert control.first_sight("talkdesk-total-drift", "q") is False
    control.disable("talkdesk-total-drift")
    control.enable("talkdesk-total-drift")
    assert control.first_sight("talkdesk-total-drift", "q") is True


def test_the_memory_of_seen_keys_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(control_module, "SEEN_LIMIT", 3)
    control = SandboxControl()
    for key in "abcd":  # "a" is pushed out by "d"
        assert control.first_sight("talkdesk-total-drift", key) is True
    assert len(control._seen["talkdesk-total-drift"]) == 3
    assert control.first_sight("talkdesk-total-drift", "d") is False
    assert control.first_sight("talkdesk-total-drift", "a") is True
    assert SEEN_LIMIT >= 1000  # the real bound keeps any test's queries


# -- over HTTP ------------------------------------------------------------------------------------


def test_get_lists_active_and_known_variants(sandbox: SandboxServer, control) -> None:
    control.enable("teli-no-total-cost")
    body = httpx.get(variants_url(sandbox)).json()
    assert body == {"active": ["teli-no-total-cost"], "known": dict(VARIANTS)}


def test_post_enables_and_disables_in_one_step(sandbox: SandboxServer, control) -> None:
    control.enable("teli-down")
    response = httpx.post(
        variants_url(sandbox),
        json={"enable": ["talkdesk-capped-pages", "telzino-down"], "disable": ["teli-down"]},
    )
    assert response.status_code == 200
    assert response.json() == {"active": ["talkdesk-capped-pages", "telzino-down"]}
    assert control.variants == {"talkdesk-capped-pages", "telzino-down"}
    # either list may be left out
    response = httpx.post(variants_url(sandbox), json={"disable": ["telzino-down"]})
    assert response.json() == {"active": ["talkdesk-capped-pages"]}


def test_delete_clears_every_variant(sandbox: SandboxServer, control) -> None:
    control.enable("teli-down", "talkdesk-null-texts")
    response = httpx.delete(variants_url(sandbox))
    assert response.status_code == 200
    assert response.json() == {"cleared": True, "active": []}
    assert control.variants == frozenset()


def test_requests_snapshot_includes_the_active_variants(sandbox: SandboxServer, control) -> None:
    control.enable("talkdesk-top-level-links")
    snapshot = httpx.get(f"{sandbox.base_url}/_control/requests").json()
    assert snapshot["variants"] == ["talkdesk-top-level-links"]
    assert httpx.get(f"{sandbox.base_url}/").json()["variants"] == ["talkdesk-top-level-links"]


def test_deleting_the_requests_also_clears_variants(sandbox: SandboxServer, control) -> None:
    control.enable("talkdesk-top-level-links")
    assert httpx.delete(f"{sandbox.base_url}/_control/requests").json() == {"reset": True}
    assert control.variants == frozenset()


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ({"enable": ["no-such-variant"]}, "unknown variant(s): no-such-variant (known: "),
        ({"disable": ["talkdesk-down", "nope"]}, "unknown variant(s): nope"),
        ({"enable": "teli-down"}, "enable must be a list of variant names"),
        ({"disable": {"teli-down": True}}, "disable must be a list of variant names"),
        ({"enable": [1, 2]}, "enable must be a list of variant names"),
        ({"enable": None}, "enable must be a list of variant names"),
        ({"enabled": ["teli-down"]}, "unknown key(s) enabled"),
        (["teli-down"], "the body must be a JSON object"),
        ("teli-down", "the body must be a JSON object"),
        (42, "the body must be a JSON object"),
        ({"enable": ["teli-down"], "disable": ["teli-down"]}, "both enabled and disabled"),
    ],
)
def test_hostile_bodies_are_400_and_change_nothing(
    sandbox: SandboxServer, control, content: Any, error: str
) -> None:
    control.enable("talkdesk-null-texts")
    response = httpx.post(variants_url(sandbox), json=content)
    assert response.status_code == 400
    assert error in response.json()["error"]
    assert control.variants == {"talkdesk-null-texts"}


@pytest.mark.parametrize("raw", [b"", b"{not json", b"\xff\xfe"])
def test_a_body_that_is_not_json_is_400(sandbox: SandboxServer, raw: bytes) -> None:
    response = httpx.post(
        variants_url(sandbox), content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "the body must be JSON"}


def test_a_fault_body_that_is_not_a_json_object_is_400(sandbox: SandboxServer) -> None:
    url = f"{sandbox.base_url}/_control/faults"
    assert httpx.post(url, content=b"{oops").status_code == 400
    assert httpx.post(url, json=[1]).status_code == 400


# -- vendor down ----------------------------------------------------------------------------------

TELZINO_TOKEN_BODY = {
    "client_id": TELZINO_CLIENT_ID,
    "client_secret": TELZINO_CLIENT_SECRET,
    "audience": "https://api.telzino.com/",
    "grant_type": "client_credentials",
}
DOWN_CASES = {
    "telzino-down": (
        [
            ("POST", "/telzino-api/oauth/token"),
            ("GET", "/telzino-api/v1/reports/minutes-by-organization"),
            ("GET", "/telzino-dashboard/v1/billing-report"),
        ],
        {"error": "Service Unavailable", "message": "Service temporarily unavailable"},
    ),
    "teli-down": (
        [
            ("GET", "/teli/v1/organizations"),
            ("GET", "/teli/v1/analytics/usage"),
            ("GET", "/teli-proxy/v1/analytics/usage"),
        ],
        {"success": False, "error": "Service temporarily unavailable", "powered_by": "Teli"},
    ),
    "talkdesk-down": (
        [("POST", "/talkdesk-id/oauth/token"), ("GET", "/talkdesk/express/usage/month")],
        {"code": "5030001", "message": "Service Unavailable"},
    ),
}


@pytest.mark.parametrize("variant", list(DOWN_CASES))
def test_a_down_vendor_answers_503_in_its_shape_from_the_first_request(
    sandbox: SandboxServer, control, variant: str
) -> None:
    control.enable(variant)
    requests, body = DOWN_CASES[variant]
    for method, path in requests:
        # valid credentials: without the variant, the token calls would succeed
        response = httpx.request(method, f"{sandbox.base_url}{path}", json=TELZINO_TOKEN_BODY)
        assert response.status_code == 503, path
        assert response.json() == body
    # the requests are still recorded, and the other vendors still serve
    vendor = variant.removesuffix("-down")
    assert control.count(vendor) == len(requests)
    others = {"telzino-down": "/teli/v1/organizations", "teli-down": "/talkdesk/express/accounts"}
    other = httpx.get(f"{sandbox.base_url}{others.get(variant, '/teli/v1/organizations')}")
    assert other.status_code == 401  # reached the vendor app: no credentials


def test_a_down_vendor_comes_back_when_the_variant_is_disabled(
    sandbox: SandboxServer, control
) -> None:
    control.enable("telzino-down")
    url = f"{sandbox.base_url}/telzino-api/oauth/token"
    assert httpx.post(url, json=TELZINO_TOKEN_BODY).status_code == 503
    control.disable("telzino-down")
    assert httpx.post(url, json=TELZINO_TOKEN_BODY).status_code == 200


def test_down_variants_are_listed_over_http(sandbox: SandboxServer) -> None:
    httpx.post(variants_url(sandbox), json={"enable": ["teli-down"]})
    body = httpx.get(variants_url(sandbox)).json()
    assert body["active"] == ["teli-down"]
    assert {"telzino-down", "teli-down", "talkdesk-down"} <= set(body["known"])
    assert httpx.get(f"{sandbox.base_url}/teli/v1/organizations").status_code == 503
