"""The fewest upstream calls that can answer an operation, computed from the dataset alone.

A `Plan` lists, per vendor endpoint, the calls any correct implementation must make once
discovery is cached (discovery and OAuth token calls are counted separately), and per connection
the chains of calls that must run one after another (Talkdesk pages: each page's `next` link is
only known from the previous page). The bounds follow the vendor contracts
(`shared/docs/upstreams.md`), not our implementation:

| endpoint | fewest calls |
|---|---|
| Telzino minutes-by-organization | 1 per distinct range (one unfiltered report answers every org) |
| Teli analytics/organizations | 1 per tenant and range (tenant-wide, no filter) |
| Teli analytics/users | 1 per organization and range whose users' usage is asked |
| Talkdesk usage/month | per connection and month set: max(filter chunks, ceil(rows/250)) |

Talkdesk filters select accounts and months only and are capped at 1,600 characters, so a
subset of accounts needs as many filters as the accounts' terms need; every filter costs at
least one page, and a page holds at most 250 rows.

The critical path is the number of sequential round-trip stages: per connection, a chain of
pages is sequential and at most `max_concurrency` calls are in flight, so a connection needs
max(longest chain, ceil(calls / max_concurrency)) stages; connections run in parallel, so the
operation needs the maximum over connections. Multiplied by the sandbox's injected latency it
is the time no implementation can beat (the emulator's own processing time comes on top).

A page of organizations ordered by cost (`paged_plan`) can only be cut from the whole ordered
list, so ranking needs every organization's charges: 1 call per Teli tenant and the Talkdesk
pages of every account (Telzino measures no cost), whatever the page size. The page's nodes'
usage adds 1 Telzino call when one of them has a Telzino part (voice); Teli and Talkdesk already
answered it. With a response cache holding the range's vendor answers, the next page costs 0
calls: it is the same ranking over the same answers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from usagegraph.sandbox.dataset import Dataset, TeliOrg, months_between, teli_source_name

__all__ = [
    "ENDPOINTS",
    "OrgIdentity",
    "Plan",
    "Range",
    "dashboard_plan",
    "drilldown_plan",
    "identities",
    "is_whole_months",
    "paged_plan",
    "usage_plan",
]

Range = tuple[date, date]

TELZINO_MINUTES = "telzino /v1/reports/minutes-by-organization"
TELI_ORGS = "teli /v1/analytics/organizations"
TELI_USERS = "teli /v1/analytics/users"
TALKDESK_USAGE = "talkdesk /express/usage/month"
ENDPOINTS = (TELZINO_MINUTES, TELI_ORGS, TELI_USERS, TALKDESK_USAGE)

PAGE_ROWS = 250
FILTER_CHARS = 1600


@dataclass(frozen=True)
class OrgIdentity:
    """One graph organization and its parts at each vendor (as the directory links them)."""

    id: str
    name: str
    telzino: str | None = None  # Telzino organization id
    teli_source: str | None = None
    teli: TeliOrg | None = None
    talkdesk_source: str | None = None
    talkdesk: str | None = None  # Talkdesk account id
    agents: int = 0

    @property
    def users(self) -> int:
        return len(self.teli.users) if self.teli is not None else 0


def identities(ds: Dataset) -> list[OrgIdentity]:
    """Every organization the graph shows, with the id it answers under: the directory id when
    two or more vendor parts are linked, else `<source>:<native id>`."""
    parts: dict[str, dict[str, object]] = {key: {} for key in ds.customer_names}
    for org in ds.telzino_orgs:
        parts[org.customer].update(telzino=org.id, agents=len(org.agents))
    for tenant in ds.teli_tenants:
        for teli_org in tenant.organizations:
            parts[teli_org.customer].update(teli_source=teli_source_name(tenant), teli=teli_org)
    for td in ds.talkdesk_orgs:
        for account in td.accounts:
            parts[account.customer].update(
                talkdesk_source=f"talkdesk-{td.slug}", talkdesk=account.id
            )
    out: list[OrgIdentity] = []
    for key, found in parts.items():
        linked = sum(1 for k in ("telzino", "teli", "talkdesk") if k in found)
        if linked == 0:
            continue
        if linked >= 2:
            node_id = key
        elif "telzino" in found:
            node_id = f"telzino:{found['telzino']}"
        elif "teli" in found:
            linked_org = found["teli"]
            assert isinstance(linked_org, TeliOrg)
            node_id = f"{found['teli_source']}:{linked_org.unique_id}"
        else:
            node_id = f"{found['talkdesk_source']}:{found['talkdesk']}"
        out.append(OrgIdentity(id=node_id, name=ds.customer_names[key], **found))  # type: ignore[arg-type]
    return out


def is_whole_months(rng: Range) -> bool:
    first, last = rng
    return first.day == 1 and (last + timedelta(days=1)).day == 1


@dataclass
class Plan:
    """Fewest calls per endpoint, and per connection the sequential chains they form."""

    calls: Counter[str] = field(default_factory=Counter)
    chains: dict[str, list[int]] = field(default_factory=dict)

    def add(self, endpoint: str, connection: str, pages: int = 1) -> None:
        self.calls[endpoint] += pages
        self.chains.setdefault(connection, []).append(pages)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def stages(self, max_concurrency: int = 8) -> int:
        """Sequential round-trip stages on the critical path (see the module docstring)."""
        worst = 0
        for chains in self.chains.values():
            if chains:
                worst = max(worst, max(chains), math.ceil(sum(chains) / max_concurrency))
        return worst

    def merged(self, other: Plan) -> Plan:
        out = Plan(Counter(self.calls), {k: list(v) for k, v in self.chains.items()})
        out.calls.update(other.calls)
        for k, v in other.chains.items():
            out.chains.setdefault(k, []).extend(v)
        return out


def _filter_chunks(n_accounts: int, months: Sequence[str]) -> int:
    """Fewest Talkdesk filters that select n accounts (24-hex ids) in these months."""
    month_part = " or ".join(f"month eq '{m}'" for m in months)
    term = len("account_id eq '") + 24 + 1
    fixed = len("() and ()") + len(month_part)
    per_chunk = max(1, (FILTER_CHARS - fixed + len(" or ")) // (term + len(" or ")))
    return math.ceil(n_accounts / per_chunk)


def usage_plan(ds: Dataset, orgs: Iterable[OrgIdentity], ranges: Sequence[Range]) -> Plan:
    """`usage(range)` of each org for each range, default partialMonths (EXCLUDE): Talkdesk is
    only asked for whole-month ranges."""
    orgs = list(orgs)
    plan = Plan()
    distinct = list(dict.fromkeys(ranges))
    telzino_asked = any(o.telzino for o in orgs)
    tenants = sorted({o.teli_source for o in orgs if o.teli_source})
    talkdesk_asked: dict[str, set[str]] = {}
    for org in orgs:
        if org.talkdesk_source and org.talkdesk:
            talkdesk_asked.setdefault(org.talkdesk_source, set()).add(org.talkdesk)
    for _rng in distinct:
        if telzino_asked:
            plan.add(TELZINO_MINUTES, "telzino")
        for tenant in tenants:
            plan.add(TELI_ORGS, tenant)
    month_sets = list(
        dict.fromkeys(tuple(months_between(*rng)) for rng in distinct if is_whole_months(rng))
    )
    for source, accounts in sorted(talkdesk_asked.items()):
        all_accounts = {
            a.id for o in ds.talkdesk_orgs if f"talkdesk-{o.slug}" == source for a in o.accounts
        }
        for months in month_sets:
            rows = len(ds.talkdesk_rows(accounts, months))
            chunks = 1 if accounts >= all_accounts else _filter_chunks(len(accounts), months)
            pages = max(chunks, math.ceil(rows / PAGE_ROWS))
            # spread the pages over the chunks: each chunk is its own sequential chain
            for i in range(chunks):
                plan.add(TALKDESK_USAGE, source, pages // chunks + (1 if i < pages % chunks else 0))
    return plan


def dashboard_plan(ds: Dataset, rng: Range) -> Plan:
    return usage_plan(ds, identities(ds), [rng])


def drilldown_plan(org: OrgIdentity, rng: Range) -> Plan:
    """organization → agents ranked by minutes (with usage) → users with usage. Teli's user
    list is discovery (cached per TTL); the agents' minutes come with the org's report."""
    plan = Plan()
    if org.telzino and org.agents:
        plan.add(TELZINO_MINUTES, "telzino")
    if org.teli_source and org.users:
        plan.add(TELI_USERS, org.teli_source)
    return plan


def paged_plan(
    ds: Dataset, orgs: Sequence[OrgIdentity], rng: Range, page: Sequence[OrgIdentity]
) -> Plan:
    """A page of `orgs` (every organization) ranked by cost over `rng`, each node with its
    usage (see the module docstring): the ranking's cost sources, Telzino for the page."""
    plan = usage_plan(ds, [replace(o, telzino=None) for o in orgs], [rng])
    if any(o.telzino for o in page):
        plan.add(TELZINO_MINUTES, "telzino")
    return plan
