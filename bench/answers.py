"""Dashboard answers checked against the dataset, for loads whose every request differs.

A system that shares one request's answer with another (a deduplication keyed without the
variables, say) answers fast and wrong; these checks catch it. Ours: each organization's
outbound SMS (Teli's count for the range) must be the dataset's. The peers: the numbers
`check_peer_dashboard` checks (Telzino minutes, Teli SMS, Talkdesk amounts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from bench.bounds import Range
from bench.org_truth import org_figures
from bench.scenarios import Request, Workload
from usagegraph.sandbox.dataset import Dataset, months_between

__all__ = [
    "check_ours_dashboard",
    "check_paged",
    "check_peer_dashboard",
    "range_of",
    "wrong_answers",
]


def range_of(req: Request) -> Range:
    """The date range a dashboard request asks about (ours or a peer's variables)."""
    v = req.variables
    if "range" in v:
        return date.fromisoformat(v["range"]["firstDay"]), date.fromisoformat(v["range"]["lastDay"])
    return date.fromisoformat(v["start"]), date.fromisoformat(v["end"])


def check_ours_dashboard(payload: dict[str, Any], wl: Workload, rng: Range) -> list[str]:
    """Wrong or missing numbers in our dashboard answer: every organization with a Teli part
    must show that part's outbound SMS for `rng` (the figure that differs from range to range)."""
    if payload.get("errors"):
        return [f"errors: {str(payload['errors'])[:200]}"]
    by_id = {o.id: o for o in wl.orgs}
    problems: list[str] = []
    checked = 0
    for reseller in ((payload.get("data") or {}).get("resellers")) or []:
        for org in reseller.get("organizations") or []:
            identity = by_id.get(org.get("id"))
            if identity is None or identity.teli is None:
                continue
            want = wl.ds.teli_org_totals(identity.teli.unique_id, *rng)["sms_out"]
            got = (((org.get("usage") or {}).get("sms")) or {}).get("outboundSegments")
            checked += 1
            if got != want:
                problems.append(f"{org['id']}: {got} outbound SMS != {want}")
    if not checked:
        problems.append("no organization with a Teli part in the answer")
    return problems


def check_paged(payload: dict[str, Any], wl: Workload, index: int) -> list[str]:
    """Wrong or missing numbers in page number `index` of the cost-ordered table: its ids must
    be the truth's page (USD charges descending, ties by id), `totalCount` and `hasNextPage`
    the truth's, and each node's voice seconds, outbound SMS and USD charges its own."""
    if payload.get("errors"):
        return [f"errors: {str(payload['errors'])[:200]}"]
    connection = (payload.get("data") or {}).get("organizationsConnection")
    if connection is None:
        return ["organizationsConnection: null"]
    want = wl.page(index)
    problems: list[str] = []
    got_ids = [node["id"] for node in connection["nodes"]]
    if got_ids != [o.id for o in want]:
        problems.append(f"page {index}: ids {got_ids} != {[o.id for o in want]}")
    if connection["totalCount"] != len(wl.orgs):
        problems.append(f"totalCount {connection['totalCount']} != {len(wl.orgs)}")
    more = (index + 1) * wl.page_size < len(wl.orgs)
    if connection["pageInfo"]["hasNextPage"] != more:
        problems.append(f"page {index}: hasNextPage {connection['pageInfo']['hasNextPage']}")
    for node, org in zip(connection["nodes"], want, strict=False):
        truth = org_figures(wl.ds, org, wl.last_month)
        usage = node.get("usage") or {}
        seconds = (usage.get("voice") or {}).get("seconds")
        sms = (usage.get("sms") or {}).get("outboundSegments")
        costs = usage.get("costs")
        usd = sum((Decimal(c["amount"]) for c in costs or () if c["currency"] == "USD"), Decimal(0))
        if seconds != truth.voice_seconds:
            problems.append(f"{org.id}: {seconds} voice seconds != {truth.voice_seconds}")
        if sms != truth.sms_outbound:
            problems.append(f"{org.id}: {sms} outbound SMS != {truth.sms_outbound}")
        if (costs is not None) != truth.costs_measured or usd != truth.usd:
            problems.append(f"{org.id}: costs {costs} != {truth.usd} USD")
    return problems


def wrong_answers(
    kept: Sequence[tuple[Request, dict[str, Any], int]], system: str, wl: Workload
) -> tuple[int, list[str]]:
    """How many answers are wrong for their own request's range, and a few examples. Each kept
    answer stands for `count` requests that got the very same answer (checked once)."""
    wrong = 0
    examples: list[str] = []
    for req, payload, count in kept:
        rng = range_of(req)
        if system == "ours":
            problems = check_ours_dashboard(payload, wl, rng)
        else:
            problems = check_peer_dashboard(payload, wl.ds, rng)
            if payload.get("errors"):
                problems.append(f"errors: {str(payload['errors'])[:200]}")
        if problems:
            wrong += count
            if len(examples) < 3:
                examples.append(f"{rng[0]}..{rng[1]}: {problems[0]}")
    return wrong, examples


def check_peer_dashboard(payload: Mapping[str, Any], ds: Dataset, rng: Range) -> list[str]:
    """Wrong or missing numbers in a peer's dashboard answer, compared with the dataset's truth:
    Telzino minutes per org, Teli outbound SMS per org, Talkdesk amounts per account and
    currency."""
    problems: list[str] = []
    data = payload.get("data") or {}
    first, last = rng
    for key, value in data.items():
        if value is None:
            problems.append(f"{key}: null")
            continue
        if key == "telzinoReport":
            for row in value.get("data") or []:
                org = ds.telzino_org_by_id.get(row.get("organization_id"))
                usage = row.get("usage")
                if org is None or usage is None:
                    problems.append(f"telzino {row.get('organization_id')}: no usage")
                    continue
                want = sum(
                    (Decimal(ds.telzino_agent_seconds(a.id, first, last)) / 60).quantize(
                        Decimal("0.01")
                    )
                    for a in org.agents
                )
                got = usage.get("total_voice_minutes")
                if got is None or abs(Decimal(str(got)) - want) > Decimal("0.011"):
                    problems.append(f"telzino {org.id}: {got} != {want}")
        elif key.startswith("teli_"):
            for org in value.get("organizations") or []:
                usage = org.get("usage")
                want_sms = ds.teli_org_totals(org["unique_id"], first, last)["sms_out"]
                if usage is None or usage.get("total_sms_sent") != want_sms:
                    problems.append(f"teli {org['unique_id']}: {usage} sms != {want_sms}")
        elif key.startswith("td_"):
            for account in ((value.get("_embedded") or {}).get("accounts")) or []:
                usage = account.get("usage")
                if usage is None:
                    problems.append(f"talkdesk {account['id']}: no usage")
                    continue
                rows = ((usage.get("_embedded") or {}).get("usage")) or []
                got_amounts: dict[str, Decimal] = {}
                for r in rows:
                    got_amounts[r["currency"]] = got_amounts.get(
                        r["currency"], Decimal(0)
                    ) + Decimal(str(r["total_amount"]))
                want_amounts: dict[str, Decimal] = {}
                for td in ds.talkdesk_rows([account["id"]], months_between(first, last)):
                    want_amounts[td.currency] = (
                        want_amounts.get(td.currency, Decimal(0)) + td.total_amount
                    )
                if set(got_amounts) != set(want_amounts) or any(
                    abs(got_amounts[c] - want_amounts[c]) > Decimal("0.001") for c in want_amounts
                ):
                    problems.append(f"talkdesk {account['id']}: {got_amounts} != {want_amounts}")
    return problems
