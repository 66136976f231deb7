"""The dataset's additions, checked against independent arithmetic on the raw daily values and
against what the emulators serve by default."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.fixtures.seeds import seed_body
from usagegraph.sandbox.dataset import (
    TELI_UNATTRIBUTED_FIELDS,
    Dataset,
    TalkdeskRow,
    TeliOrg,
    generate,
)
from usagegraph.sandbox.server import SandboxServer

SEED_PRODUCT = "TD-LIC-APP-RC-101910"


def raw_sum(values: Any, dataset: Dataset, first: date, last: date) -> int:
    """A daily array summed over an inclusive range by slicing, not by the dataset's prefixes."""
    a, b = (first - dataset.start).days, (last - dataset.start).days
    return sum(values[a : b + 1])


def by_product(dataset: Dataset, product_id: str) -> list[TalkdeskRow]:
    return [r for r in dataset.talkdesk_rows() if r.product_id == product_id]


# -- Talkdesk --------------------------------------------------------------------------------------


def test_the_seeds_example_line_is_served_as_the_seed_prints_it(dataset: Dataset) -> None:
    rows = by_product(dataset, SEED_PRODUCT)
    # billed every month on every account
    assert len(rows) == len(dataset.talkdesk_accounts) * len({r.month for r in rows})
    for row in rows:
        assert (row.type, row.unit, row.description) == ("NUMBER", "MINUTES", "SIP Number")
        assert (row.aggr_product_id, row.direction, row.resolution) == (
            "TD-USG-TEL-UG-102213",
            "INBOUND",
            None,
        )
        assert row.wallet_name == "contact center"
        assert 0 <= row.number_of_units <= 40
    usd = [r for r in rows if r.currency == "USD"]
    assert usd and {r.price for r in usd} == {Decimal(1)}
    assert any(r.total_amount == r.number_of_units for r in usd)  # the seed: 5 units, 5 USD


def test_phone_number_rental_is_a_separate_numbers_line(dataset: Dataset) -> None:
    rows = by_product(dataset, "TD-LIC-NUM-RENT-101911")
    assert len(rows) == len(by_product(dataset, SEED_PRODUCT))
    assert {(r.type, r.unit, r.description) for r in rows} == {
        ("NUMBER", "NUMBERS", "Phone number rental")
    }
    assert all(1 <= r.number_of_units <= 6 for r in rows)


@pytest.mark.parametrize(
    ("kind", "unit", "direction"),
    [
        ("MESSAGE", "SEGMENTS", "INBOUND"),
        ("MESSAGE", "SEGMENTS", "OUTBOUND"),
        ("MESSAGE", "SEGMENTS", "OTHER"),
        ("MESSAGE", "SEGMENTS", None),
        ("AMD", "REQUESTS", "OUTBOUND"),
    ],
)
def test_usage_lines_the_docs_allow_are_present(
    dataset: Dataset, kind: str, unit: str, direction: str | None
) -> None:
    rows = [
        r
        for r in dataset.talkdesk_rows()
        if (r.type, r.unit, r.direction) == (kind, unit, direction)
    ]
    assert len({r.account_id for r in rows}) == len(dataset.talkdesk_accounts)


@pytest.mark.parametrize(
    ("kind", "amounts"),
    [("RECHARGE", {"100.0000", "250.0000"}), ("CREDIT_COMMIT", {"500.0000", "1000.0000"})],
)
def test_wallet_movements_are_one_unit_priced_at_the_amount(
    dataset: Dataset, kind: str, amounts: set[str]
) -> None:
    rows = [r for r in dataset.talkdesk_rows() if r.type == kind]
    assert len(rows) >= 5  # occasional, yet present in scale S
    assert len(rows) < len(by_product(dataset, SEED_PRODUCT)) / 2  # not every month
    for row in rows:
        assert (row.unit, row.number_of_units, row.direction, row.resolution) == (
            "OTHER",
            1,
            None,
            None,
        )
        assert row.price == row.total_amount
        assert str(row.total_amount) in amounts


def test_amounts_keep_four_decimals_and_ids_stay_md5s_of_the_line(dataset: Dataset) -> None:
    rows = dataset.talkdesk_rows()
    for row in rows:
        assert row.total_amount.as_tuple().exponent == -4
        key = f"{row.account_id}/{row.month}/{row.product_id}/{row.currency}"
        assert row.id == hashlib.md5(key.encode()).hexdigest()
    assert len({r.id for r in rows}) == len(rows)


def test_the_emulator_serves_the_seed_line_and_wallet_rows(
    sandbox: SandboxServer, dataset: Dataset
) -> None:
    org = dataset.talkdesk_orgs[0]
    token = httpx.post(
        f"{sandbox.base_url}/talkdesk-id/oauth/token",
        auth=(org.client_id, org.client_secret),
        data={"grant_type": "client_credentials"},
    ).json()["access_token"]
    url: str | None = f"{sandbox.base_url}/talkdesk/express/usage/month?per_page=250"
    served: list[dict[str, Any]] = []
    while url is not None:
        body = json.loads(
            httpx.get(url, headers={"Authorization": f"Bearer {token}"}).content,
            parse_float=Decimal,
        )
        served.extend(body["_embedded"]["usage"])
        url = body["_links"].get("next", {}).get("href")
    printed = json.loads(seed_body("004-talkdesk-usage-month.json"), parse_float=Decimal)
    (example,) = printed["_embedded"]["usage"]
    seed = next(
        r
        for r in served
        if r["product_id"] == example["product_id"] and r["currency"] == example["currency"]
    )
    assert list(seed) == list(example)  # the seed's fields, in the seed's order
    # what the seed fixes for its product (ids, month and counts are the dataset's own)
    product = ("aggr_product_id", "type", "description", "direction", "resolution", "unit")
    assert {k: seed[k] for k in (*product, "price", "wallet_name")} == {
        k: example[k] for k in (*product, "price", "wallet_name")
    }
    assert seed["total_amount"] == seed["price"] * seed["number_of_units"]  # as 1 x 5 = 5
    kinds = Counter(r["type"] for r in served)
    truth = Counter(r.type for r in dataset.talkdesk_rows([a.id for a in org.accounts]))
    assert kinds == truth
    assert kinds["RECHARGE"] and kinds["AMD"]


# -- Teli ------------------------------------------------------------------------------------------


def teli_orgs_with_unattributed(dataset: Dataset) -> list[TeliOrg]:
    return [o for o in dataset.teli_orgs.values() if o.unattributed is not None]


def test_about_half_the_teli_orgs_have_unattributed_usage(dataset: Dataset) -> None:
    orgs = teli_orgs_with_unattributed(dataset)
    assert 0.3 <= len(orgs) / len(dataset.teli_orgs) <= 0.7
    assert any(o.users for o in orgs)
    assert all(set(o.unattributed or ()) == set(TELI_UNATTRIBUTED_FIELDS) for o in orgs)


def test_org_totals_are_users_plus_the_orgs_own_share(dataset: Dataset) -> None:
    first, last = dataset.start + timedelta(days=20), dataset.start + timedelta(days=140)
    for org in dataset.teli_orgs.values():
        totals = dataset.teli_org_totals(org.unique_id, first, last)
        own = dataset.teli_org_unattributed_totals(org.unique_id, first, last)
        for name in ("voice_calls", "voice_seconds", "kb_seconds", "cost_voice_cents", "sms_out"):
            users = sum(raw_sum(u.series[name].values, dataset, first, last) for u in org.users)
            mine = 0
            if org.unattributed is not None and name in org.unattributed:
                mine = raw_sum(org.unattributed[name].values, dataset, first, last)
            assert own.get(name, 0) == mine
            assert totals[name] == users + mine, (org.unique_id, name)
    assert any(
        dataset.teli_org_unattributed_totals(o.unique_id, first, last)["voice_seconds"] > 0
        for o in dataset.teli_orgs.values()
    )


def test_unattributed_voice_is_priced_like_users_voice(dataset: Dataset) -> None:
    org = teli_orgs_with_unattributed(dataset)[0]
    assert org.unattributed is not None
    series = org.unattributed
    days = list(zip(*(series[n].values for n in TELI_UNATTRIBUTED_FIELDS), strict=True))
    for calls, seconds, kb, cents in days:
        assert cents == -(-(seconds + kb) // 60) * 2  # 2 cents per started minute
        assert (calls == 0) == (seconds == 0)
    assert sum(day[1] for day in days) > 0


def test_org_analytics_differ_from_the_sum_of_users_by_the_orgs_own_truth(
    sandbox: SandboxServer, dataset: Dataset
) -> None:
    org = next(o for o in teli_orgs_with_unattributed(dataset) if o.users)
    tenant = next(t for t in dataset.teli_tenants if org in t.organizations)
    first, last = date(2026, 3, 1), date(2026, 5, 31)
    params = {"start_date": first.isoformat(), "end_date": last.isoformat()}
    headers = {"X-API-Key": tenant.api_key}
    base = f"{sandbox.base_url}/teli/v1/analytics"
    orgs = httpx.get(f"{base}/organizations", params=params, headers=headers).json()
    users = httpx.get(
        f"{base}/users", params={**params, "organization_id": org.unique_id}, headers=headers
    ).json()["users"]
    row = next(r for r in orgs["organizations"] if r["organization_id"] == org.unique_id)
    own = dataset.teli_org_unattributed_totals(org.unique_id, first, last)
    assert own["voice_seconds"] > 0
    assert row["total_voice_seconds"] - sum(u["total_voice_seconds"] for u in users) == (
        own["voice_seconds"] + own["kb_seconds"]
    )
    assert (
        row["total_voice_calls"] - sum(u["total_voice_calls"] for u in users)
        == (own["voice_calls"])
    )
    # the org's cost = its users' + its fees + its own voice (all in cents)
    fees = dataset.teli_org_totals(org.unique_id, first, last)
    fee_cents = fees["api_storage_cents"] + fees["cost_other_cents"]
    user_cents = sum(round(Decimal(str(u["total_cost"])) * 100) for u in users)
    assert round(Decimal(str(row["total_cost"])) * 100) == (
        user_cents + fee_cents + own["cost_voice_cents"]
    )


def test_org_usage_and_lifetime_counters_include_the_orgs_own_share(
    sandbox: SandboxServer, dataset: Dataset
) -> None:
    org = next(o for o in teli_orgs_with_unattributed(dataset) if o.users)
    tenant = next(t for t in dataset.teli_tenants if org in t.organizations)
    headers = {"X-API-Key": tenant.api_key}
    usage = httpx.get(
        f"{sandbox.base_url}/teli/v1/analytics/usage",
        params={"organization_id": org.unique_id},
        headers=headers,
    ).json()["usage"]["voice"]
    own = dataset.teli_org_unattributed_totals(org.unique_id, dataset.start, dataset.end)
    users = [dataset.teli_user_totals(u.unique_id, dataset.start, dataset.end) for u in org.users]
    assert usage["seconds"] == sum(u["voice_seconds"] for u in users) + own["voice_seconds"]
    assert usage["kb_seconds"] == sum(u["kb_seconds"] for u in users) + own["kb_seconds"]
    assert usage["total_seconds"] == usage["seconds"] + usage["kb_seconds"]
    listed = httpx.get(f"{sandbox.base_url}/teli/v1/organizations", headers=headers).json()
    row = next(r for r in listed["organizations"] if r["unique_id"] == org.unique_id)
    assert row["total_voice_seconds"] == usage["total_seconds"]


# -- Telzino ---------------------------------------------------------------------------------------


def test_every_third_telzino_org_with_agents_has_unlisted_seconds(dataset: Dataset) -> None:
    with_agents = [o for o in dataset.telzino_orgs if o.agents]
    unlisted = [o for o in with_agents if o.unlisted_seconds is not None]
    assert 2 <= len(unlisted) <= len(with_agents) // 2
    assert all(o.agents for o in dataset.telzino_orgs if o.unlisted_seconds is not None)


def test_unlisted_seconds_truth_is_the_series_sum(dataset: Dataset) -> None:
    first, last = dataset.start + timedelta(days=31), dataset.start + timedelta(days=95)
    for org in dataset.telzino_orgs:
        truth = dataset.telzino_org_unlisted_seconds(org.id, first, last)
        if org.unlisted_seconds is None:
            assert truth == 0
        else:
            assert truth == raw_sum(org.unlisted_seconds.values, dataset, first, last) > 0
        # the listed agents' seconds are unchanged by it
        listed = sum(raw_sum(a.seconds.values, dataset, first, last) for a in org.agents)
        assert dataset.telzino_org_seconds(org.id, first, last) == listed


def test_unlisted_seconds_outside_the_window_are_zero(dataset: Dataset) -> None:
    org = next(o for o in dataset.telzino_orgs if o.unlisted_seconds is not None)
    before = dataset.start - timedelta(days=40)
    assert dataset.telzino_org_unlisted_seconds(org.id, before, before + timedelta(days=30)) == 0


# -- determinism -----------------------------------------------------------------------------------


def test_generation_is_deterministic(dataset: Dataset) -> None:
    again = generate(seed=7, scale="S", start=dataset.start, end=dataset.end)
    assert again.talkdesk_rows() == dataset.talkdesk_rows()
    for org in dataset.teli_orgs.values():
        other = again.teli_orgs[org.unique_id]
        assert (other.unattributed is None) == (org.unattributed is None)
        assert again.teli_org_totals(org.unique_id, dataset.start, dataset.end) == (
            dataset.teli_org_totals(org.unique_id, dataset.start, dataset.end)
        )
    for org in dataset.telzino_orgs:
        assert again.telzino_org_unlisted_seconds(org.id, dataset.start, dataset.end) == (
            dataset.telzino_org_unlisted_seconds(org.id, dataset.start, dataset.end)
        )
