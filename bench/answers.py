"""Dashboard answers checked against the dataset, for loads whose every request differs.

A system that shares one request's answer with another (a deduplication keyed without the
variables, say) answers fast and wrong; these checks catch it. Ours: each organization's
outbound SMS (Teli's count for the range) must be the dataset's. The peers: the numbers
`bench.peers.check_peer_dashboard` checks (Telzino minutes, Teli SMS, Talkdesk amounts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from bench.bounds import Range
from bench.scenarios import Request, Workload

__all__ = ["check_ours_dashboard", "range_of", "wrong_answers"]


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


def wrong_answers(
    kept: Sequence[tuple[Request, dict[str, Any], int]], system: str, wl: Workload
) -> tuple[int, list[str]]:
    """How many answers are wrong for their own request's range, and a few examples. Each kept
    answer stands for `count` requests that got the very same answer (checked once)."""
    from bench.peers import check_peer_dashboard

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
