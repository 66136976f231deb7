"""An organization's figures over a range, straight from the dataset (never the emulators): the
truth the paged-table scenario's order and numbers are checked against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bench.bounds import OrgIdentity, Range, is_whole_months
from usagegraph.sandbox.dataset import Dataset, months_between

__all__ = ["OrgFigures", "by_cost", "org_figures"]

_WALLET = frozenset({"RECHARGE", "CREDIT_COMMIT"})  # wallet movements are no charge


@dataclass(frozen=True)
class OrgFigures:
    """What `usage(range) { voice { seconds } sms { outboundSegments } costs }` says."""

    voice_seconds: int
    sms_outbound: int | None  # None: no part measures SMS (Telzino only)
    usd: Decimal  # USD charges; 0 when no part measures costs (how COST orders them)
    costs_measured: bool


def org_figures(ds: Dataset, org: OrgIdentity, rng: Range) -> OrgFigures:
    """Telzino voice + Teli (voice with KB, SMS, cents) + Talkdesk (whole months only)."""
    first, last = rng
    voice = ds.telzino_org_seconds(org.telzino, first, last) if org.telzino else 0
    sms: int | None = None
    usd = Decimal(0)
    measured = False
    if org.teli is not None:
        t = ds.teli_org_totals(org.teli.unique_id, first, last)
        voice += t["voice_seconds"] + t["kb_seconds"]
        sms = t["sms_out"]
        cents = sum(
            t[k]
            for k in (
                "cost_sms_cents",
                "cost_mms_cents",
                "cost_voice_cents",
                "api_storage_cents",
                "cost_other_cents",
            )
        )
        usd += Decimal(cents) / 100
        measured = True
    if org.talkdesk is not None and is_whole_months(rng):
        measured = True
        sms = sms or 0
        months = set(months_between(first, last))
        for row in ds.talkdesk_accounts[org.talkdesk].rows:
            if row.month not in months or row.type in _WALLET:
                continue
            if row.currency == "USD":
                usd += row.total_amount
            if (row.type, row.unit) == ("CALL", "MINUTES"):
                voice += row.number_of_units * 60
            elif (row.type, row.unit) == ("CALL", "SECONDS"):
                voice += row.number_of_units
            elif (row.type, row.unit, row.direction) == ("MESSAGE", "SEGMENTS", "OUTBOUND"):
                sms += row.number_of_units
    return OrgFigures(voice, sms, usd, measured)


def by_cost(ds: Dataset, orgs: Sequence[OrgIdentity], rng: Range) -> list[OrgIdentity]:
    """Every organization by USD charges over `rng`, largest first, ties by id ascending: the
    order `organizationsConnection(orderBy: {field: COST, direction: DESC})` must give."""
    usd = {o.id: org_figures(ds, o, rng).usd for o in orgs}
    return sorted(sorted(orgs, key=lambda o: o.id), key=lambda o: usd[o.id], reverse=True)
