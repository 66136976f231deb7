"""The one deterministic dataset every sandbox endpoint is derived from.

A seeded generator builds channels (our resellers) and customers (our organizations) and gives each
the vendor presence the scenario needs: Telzino resellers, organizations and agents with daily call
seconds; Teli tenants, organizations and users with daily messaging/voice counters; Talkdesk
organizations (one OAuth client each) and accounts with monthly billing rows.

Every value for a given (seed, entity, month) is drawn from its own RNG, so a day's data does not
change when the window around it grows. The "truth" methods answer exact totals for inclusive UTC
day ranges from prefix sums; tests compare the emulators and the graph against them.

Shapes the vendors' docs show that a client must not get wrong, each with its own RNG stream so
the values that were there before them did not change:
- Talkdesk: the seed's own example line (`NUMBER` "SIP Number" billed in `MINUTES` at 1, 0-40 a
  month) beside a phone-number rental line (`NUMBER`/`NUMBERS`); inbound SMS, `MESSAGE` rows
  with direction `OTHER` and null, answering-machine detection (`AMD`/`REQUESTS`); and wallet
  movements that are not usage charges: occasional `RECHARGE` (a top-up of 100 or 250) and
  `CREDIT_COMMIT` (500 or 1000) rows, unit `OTHER`, one unit priced at the amount.
- Teli: about half the organizations (odd customer index) also have calls of unassigned agents,
  credited to no user (`TELI_UNATTRIBUTED_FIELDS`, priced like users' voice). They count in the
  org's figures (`teli_org_totals`) and nowhere in its users', so an org is no longer the sum of
  its users; `teli_org_unattributed_totals` is the difference.
- Telzino: every third organization with agents also has seconds of agents the reports do not
  list (`telzino_org_unlisted_seconds`), served only under a variant; `telzino_org_seconds`
  stays the listed agents' seconds.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import NamedTuple

__all__ = [
    "SCALES",
    "TELI_UNATTRIBUTED_FIELDS",
    "TELZINO_CLIENT_ID",
    "TELZINO_CLIENT_SECRET",
    "Dataset",
    "Scale",
    "Series",
    "TalkdeskAccount",
    "TalkdeskOrg",
    "TalkdeskRow",
    "TeliOrg",
    "TeliTenant",
    "TeliUser",
    "TelzinoAgent",
    "TelzinoOrg",
    "TelzinoReseller",
    "generate",
    "month_key",
    "months_between",
]


DailyDraw = Callable[[random.Random], dict[str, int]]


# The sandbox's one Telzino OAuth client (a Telzino account sees all of its resellers).
TELZINO_CLIENT_ID = "telzino-sandbox"
TELZINO_CLIENT_SECRET = "telzino-sandbox-secret"


@dataclass(frozen=True)
class Scale:
    """Dataset size: channels, customers, and how many agents/users a customer has."""

    resellers: int
    organizations: int
    agents_per_org: int | None  # None: a varied 0..4, as in the default dataset
    users_per_org: int | None  # None: a varied 0..3
    months: int  # calendar months in the window, the current one included


SCALES: dict[str, Scale] = {
    "S": Scale(resellers=3, organizations=20, agents_per_org=None, users_per_org=None, months=13),
    "M": Scale(resellers=10, organizations=200, agents_per_org=10, users_per_org=5, months=3),
    "L": Scale(resellers=20, organizations=2000, agents_per_org=10, users_per_org=5, months=2),
}


class Series:
    """Daily integer values over the dataset window with O(1) inclusive range sums."""

    __slots__ = ("_prefix", "values")

    def __init__(self, values: array[int]) -> None:
        self.values = values
        self._prefix: array[int] | None = None

    def total(self, first: int, last: int) -> int:
        """Sum of days first..last (window indexes, inclusive, already clipped)."""
        if last < first:
            return 0
        if self._prefix is None:
            prefix = array("q", [0])
            running = 0
            for value in self.values:
                running += value
                prefix.append(running)
            self._prefix = prefix
        return self._prefix[last + 1] - self._prefix[first]


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_between(first: date, last: date) -> list[str]:
    """Every YYYY-MM touched by the inclusive day range."""
    keys: list[str] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys


def _month_start(day: date, back: int) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hex(rng: random.Random, length: int) -> str:
    return f"{rng.getrandbits(length * 4):0{length}x}"


# ---------------------------------------------------------------------------------------------
# Telzino


@dataclass
class TelzinoAgent:
    id: str
    organization_id: str
    name: str | None
    external_id: str | None
    description: str
    created_at: datetime
    seconds: Series = field(repr=False)
    calls: Series = field(repr=False)

    @property
    def display_name(self) -> str:
        """The report's fallback: name, then external_id, then the internal id."""
        return self.name or self.external_id or self.id


@dataclass
class TelzinoOrg:
    id: str
    reseller_id: str
    name: str | None
    customer: str  # the dataset's customer key, for the directory
    agents: list[TelzinoAgent]
    # seconds of agents the reports do not list (e.g. deleted ones); None for most orgs
    unlisted_seconds: Series | None = field(default=None, repr=False)

    @property
    def display_name(self) -> str:
        return self.name or self.id


@dataclass
class TelzinoReseller:
    id: str
    name: str | None
    channel: str

    @property
    def display_name(self) -> str:
        return self.name or self.id


# ---------------------------------------------------------------------------------------------
# Teli

TELI_USER_FIELDS = (
    "sms_out",
    "sms_in",
    "mms_out",
    "mms_in",
    "voice_calls",
    "voice_seconds",  # regular calls only
    "kb_seconds",  # calls that used knowledge-base retrieval
    "cost_sms_cents",
    "cost_mms_cents",
    "cost_voice_cents",
)
TELI_ORG_FIELDS = (
    "api_requests",
    "api_storage_cents",
    "phone_rentals",
    "phone_purchases",
    "brand_registrations",
    "kbs_created",
    "cost_other_cents",  # phone, brand, knowledge-base fees
)
# Calls of an organization's unassigned agents: org usage that no user is credited with.
TELI_UNATTRIBUTED_FIELDS = ("voice_calls", "voice_seconds", "kb_seconds", "cost_voice_cents")


@dataclass
class TeliUser:
    unique_id: str
    id: str  # uuid
    name: str
    email: str
    permission: str
    status: str
    org_unique_id: str
    created_at: datetime
    series: dict[str, Series] = field(repr=False)


@dataclass
class TeliOrg:
    unique_id: str
    id: str  # uuid
    name: str
    status: str
    tenant_id: str
    customer: str
    created_at: datetime
    users: list[TeliUser]
    series: dict[str, Series] = field(repr=False)
    # TELI_UNATTRIBUTED_FIELDS series for the orgs that have such usage, else None
    unattributed: dict[str, Series] | None = field(default=None, repr=False)


@dataclass
class TeliTenant:
    tenant_id: str
    api_key: str
    channel: str
    organizations: list[TeliOrg]


# ---------------------------------------------------------------------------------------------
# Talkdesk


@dataclass(frozen=True)
class TalkdeskRow:
    id: str
    account_id: str
    product_id: str
    aggr_product_id: str
    month: str
    type: str
    description: str
    currency: str
    direction: str | None
    resolution: str | None
    unit: str
    price: Decimal
    wallet_name: str
    number_of_units: int
    total_amount: Decimal


@dataclass
class TalkdeskAccount:
    id: str  # 24 hex
    name: str
    company_name: str
    status: str
    customer: str
    rows: list[TalkdeskRow] = field(repr=False)


@dataclass
class TalkdeskOrg:
    slug: str
    name: str
    channel: str
    client_id: str
    client_secret: str
    accounts: list[TalkdeskAccount]


class _Product(NamedTuple):
    """One Talkdesk billing line an account may have each month."""

    product_id: str
    aggr_product_id: str
    type: str
    description: str
    unit: str
    direction: str | None
    resolution: str | None
    wallet: str
    price: str  # USD per unit, 4 decimals
    # inclusive range of monthly units; None: the original lines' draw (see _talkdesk_rows)
    units: tuple[int, int] | None = None
    every_month: bool = False  # billed every month (else skipped in about a quarter of months)


# The original lines, drawn from the month's first RNG exactly as before, so their rows keep
# their values. The seed's own example line (SIP Number, NUMBER billed in MINUTES at 1) is
# printed here as the seed prints it; its monthly units come from the second RNG.
_TALKDESK_PRODUCTS: tuple[_Product, ...] = (
    _Product(
        "TD-USG-TEL-IN-100101",
        "TD-USG-TEL-UG-102213",
        "CALL",
        "Inbound calls",
        "MINUTES",
        "INBOUND",
        "ANSWERED",
        "contact center",
        "0.0120",
    ),
    _Product(
        "TD-USG-TEL-OUT-100102",
        "TD-USG-TEL-UG-102213",
        "CALL",
        "Outbound calls",
        "MINUTES",
        "OUTBOUND",
        "ANSWERED",
        "contact center",
        "0.0185",
    ),
    _Product(
        "TD-USG-TEL-IVR-100103",
        "TD-USG-TEL-UG-102213",
        "CALL",
        "IVR seconds",
        "SECONDS",
        "INBOUND",
        None,
        "contact center",
        "0.0003",
    ),
    _Product(
        "TD-USG-MSG-SMS-100201",
        "TD-USG-MSG-UG-102214",
        "MESSAGE",
        "SMS segments",
        "SEGMENTS",
        "OUTBOUND",
        None,
        "messaging",
        "0.0079",
    ),
    _Product(
        "TD-LIC-APP-RC-101910",
        "TD-USG-TEL-UG-102213",
        "NUMBER",
        "SIP Number",
        "MINUTES",
        "INBOUND",
        None,
        "contact center",
        "1.0000",
        units=(0, 40),
        every_month=True,
    ),
    _Product(
        "TD-USG-STT-100301",
        "TD-USG-AI-UG-102215",
        "SPEECH_TRANSCRIPTION",
        "Speech transcription",
        "MINUTES",
        None,
        None,
        "ai",
        "0.0240",
    ),
    _Product(
        "TD-USG-API-100401",
        "TD-USG-API-UG-102216",
        "API_REQUEST",
        "API requests",
        "REQUESTS",
        None,
        None,
        "platform",
        "0.0001",
    ),
)
# Lines added later, drawn from the month's second RNG so the lines above keep their values.
_TALKDESK_MORE_PRODUCTS: tuple[_Product, ...] = (
    _Product(
        "TD-LIC-NUM-RENT-101911",
        "TD-USG-TEL-UG-102213",
        "NUMBER",
        "Phone number rental",
        "NUMBERS",
        None,
        None,
        "contact center",
        "1.0000",
        units=(1, 6),
        every_month=True,
    ),
    _Product(
        "TD-USG-MSG-SMS-100202",
        "TD-USG-MSG-UG-102214",
        "MESSAGE",
        "Inbound SMS segments",
        "SEGMENTS",
        "INBOUND",
        None,
        "messaging",
        "0.0050",
        units=(0, 3000),
    ),
    _Product(
        "TD-USG-MSG-OTH-100203",
        "TD-USG-MSG-UG-102214",
        "MESSAGE",
        "Messaging segments (other)",
        "SEGMENTS",
        "OTHER",
        None,
        "messaging",
        "0.0079",
        units=(0, 400),
    ),
    _Product(
        "TD-USG-MSG-UNK-100204",
        "TD-USG-MSG-UG-102214",
        "MESSAGE",
        "Message segments",
        "SEGMENTS",
        None,
        None,
        "messaging",
        "0.0079",
        units=(0, 400),
    ),
    _Product(
        "TD-USG-AMD-100501",
        "TD-USG-TEL-UG-102213",
        "AMD",
        "Answering machine detection",
        "REQUESTS",
        "OUTBOUND",
        None,
        "contact center",
        "0.0040",
        units=(0, 6000),
    ),
)
# Wallet movements, not usage charges: (product, aggr product, type, description, chance per
# month, amounts). One unit at price = the amount, in the account's currency, never discounted.
_TALKDESK_WALLET: tuple[tuple[str, str, str, str, float, tuple[str, ...]], ...] = (
    (
        "TD-WAL-RCH-900001",
        "TD-WAL-UG-900000",
        "RECHARGE",
        "Wallet recharge",
        0.2,
        ("100.0000", "250.0000"),
    ),
    (
        "TD-WAL-CMT-900002",
        "TD-WAL-UG-900000",
        "CREDIT_COMMIT",
        "Credit commitment",
        0.1,
        ("500.0000", "1000.0000"),
    ),
)
_EUR_PRICE_FACTOR = Decimal("0.92")

_CHANNEL_NAMES = ("Northwind Channel", "Southpoint Partners", "Eastgate Telecom", "Westbrook Voice")
_CUSTOMER_NAMES = (
    "Acme Solar",
    "Best Plumbing",
    "Cedar Dental",
    "Delta Logistics",
    "Evergreen Realty",
    "Fjord Fitness",
    "Granite Legal",
    "Harbor Clinics",
    "Iris Insurance",
    "Juniper Foods",
    "Kestrel Auto",
    "Lumen Schools",
    "Maple Vets",
    "Nimbus Travel",
    "Orchid Spa",
    "Pioneer HVAC",
    "Quartz Retail",
    "Redwood Roofing",
    "Summit Storage",
    "Tidal Marine",
)
_USER_NAMES = ("Ava Lopez", "Ben Carter", "Chen Wei", "Dana Kim", "Eli Novak", "Fay Osei")
_AGENT_NAMES = ("Customer Support Agent", "Booking Agent", "Billing Agent", "After-hours Agent")


@dataclass
class Dataset:
    """All three vendors' data over one window of UTC days, plus the truth API."""

    seed: int
    scale: str
    start: date
    end: date
    telzino_resellers: list[TelzinoReseller]
    telzino_orgs: list[TelzinoOrg]
    teli_tenants: list[TeliTenant]
    talkdesk_orgs: list[TalkdeskOrg]
    channel_names: dict[str, str]
    customer_names: dict[str, str]
    # memo of _teli_usage_summed (org unique_id -> counter -> summed series)
    _teli_user_sums: dict[str, dict[str, Series]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    # -- window helpers ------------------------------------------------------------------------
    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def clip(self, first: date, last: date) -> tuple[int, int]:
        """Window indexes of an inclusive day range; (0, -1) when it misses the window."""
        lo = max(first, self.start)
        hi = min(last, self.end)
        if hi < lo:
            return 0, -1
        return (lo - self.start).days, (hi - self.start).days

    def day(self, index: int) -> date:
        return self.start + timedelta(days=index)

    # -- lookups -------------------------------------------------------------------------------
    @cached_property
    def telzino_agents(self) -> dict[str, TelzinoAgent]:
        return {a.id: a for o in self.telzino_orgs for a in o.agents}

    @cached_property
    def telzino_org_by_id(self) -> dict[str, TelzinoOrg]:
        return {o.id: o for o in self.telzino_orgs}

    @cached_property
    def telzino_reseller_by_id(self) -> dict[str, TelzinoReseller]:
        return {r.id: r for r in self.telzino_resellers}

    @cached_property
    def teli_orgs(self) -> dict[str, TeliOrg]:
        return {o.unique_id: o for t in self.teli_tenants for o in t.organizations}

    @cached_property
    def teli_users(self) -> dict[str, TeliUser]:
        return {u.unique_id: u for o in self.teli_orgs.values() for u in o.users}

    @cached_property
    def talkdesk_accounts(self) -> dict[str, TalkdeskAccount]:
        return {a.id: a for o in self.talkdesk_orgs for a in o.accounts}

    # -- Telzino truth -------------------------------------------------------------------------
    def telzino_agent_seconds(self, agent_id: str, first: date, last: date) -> int:
        a, b = self.clip(first, last)
        return self.telzino_agents[agent_id].seconds.total(a, b)

    def telzino_agent_calls(self, agent_id: str, first: date, last: date) -> int:
        a, b = self.clip(first, last)
        return self.telzino_agents[agent_id].calls.total(a, b)

    def telzino_org_seconds(self, org_id: str, first: date, last: date) -> int:
        """The seconds of the org's listed agents (unlisted ones not included)."""
        org = self.telzino_org_by_id[org_id]
        return sum(self.telzino_agent_seconds(a.id, first, last) for a in org.agents)

    def telzino_org_unlisted_seconds(self, org_id: str, first: date, last: date) -> int:
        """The seconds of agents the reports do not list (0 for most orgs); served only under
        the `telzino-unlisted-agent-minutes` variant."""
        series = self.telzino_org_by_id[org_id].unlisted_seconds
        if series is None:
            return 0
        a, b = self.clip(first, last)
        return series.total(a, b)

    def telzino_active_agents(self, org_id: str, first: date, last: date) -> int:
        org = self.telzino_org_by_id[org_id]
        return sum(1 for a in org.agents if self.telzino_agent_seconds(a.id, first, last) > 0)

    # -- Teli truth ----------------------------------------------------------------------------
    def teli_user_totals(self, unique_id: str, first: date, last: date) -> dict[str, int]:
        a, b = self.clip(first, last)
        user = self.teli_users[unique_id]
        return {name: s.total(a, b) for name, s in user.series.items()}

    def teli_org_totals(self, unique_id: str, first: date, last: date) -> dict[str, int]:
        """Org-level counters plus the sum of its users' counters plus its unattributed usage
        (cents for money): what the org's analytics and usage answers say."""
        a, b = self.clip(first, last)
        org = self.teli_orgs[unique_id]
        totals = {name: s.total(a, b) for name, s in org.series.items()}
        for name, series in self._teli_usage_summed(org).items():
            totals[name] = series.total(a, b)
        return totals

    def teli_org_unattributed_totals(
        self, unique_id: str, first: date, last: date
    ) -> dict[str, int]:
        """The org's own share of TELI_UNATTRIBUTED_FIELDS (calls of agents no user is credited
        with; zeros for most orgs): `teli_org_totals` minus the sum of its users' figures."""
        unattributed = self.teli_orgs[unique_id].unattributed
        if unattributed is None:
            return dict.fromkeys(TELI_UNATTRIBUTED_FIELDS, 0)
        a, b = self.clip(first, last)
        return {name: s.total(a, b) for name, s in unattributed.items()}

    def _teli_usage_summed(self, org: TeliOrg) -> dict[str, Series]:
        """The org's users' daily counters and its unattributed usage added up, built once: the
        emulator answers tenant-wide analytics on every call, and its own speed counts against
        every system the benchmark measures."""
        summed = self._teli_user_sums.get(org.unique_id)
        if summed is None:
            summed = {}
            for name in TELI_USER_FIELDS:
                values = array("q", bytes(8 * self.days))
                parts = [user.series[name] for user in org.users]
                if org.unattributed is not None and name in org.unattributed:
                    parts.append(org.unattributed[name])
                for part in parts:
                    for i, value in enumerate(part.values):
                        values[i] += value
                summed[name] = Series(values)
            self._teli_user_sums[org.unique_id] = summed
        return summed

    def teli_lifetime_org_totals(self, unique_id: str) -> dict[str, int]:
        return self.teli_org_totals(unique_id, self.start, self.end)

    # -- Talkdesk truth ------------------------------------------------------------------------
    def talkdesk_rows(
        self, account_ids: Iterable[str] | None = None, months: Iterable[str] | None = None
    ) -> list[TalkdeskRow]:
        wanted_accounts = set(account_ids) if account_ids is not None else None
        wanted_months = set(months) if months is not None else None
        rows: list[TalkdeskRow] = []
        for account in self.talkdesk_accounts.values():
            if wanted_accounts is not None and account.id not in wanted_accounts:
                continue
            rows.extend(
                r for r in account.rows if wanted_months is None or r.month in wanted_months
            )
        return rows

    # -- sandbox description -------------------------------------------------------------------
    def talkdesk_org_of(self, account_id: str) -> TalkdeskOrg:
        return next(o for o in self.talkdesk_orgs if any(a.id == account_id for a in o.accounts))

    def directory_toml(self) -> str:
        """A directory file linking each channel and customer across vendors."""
        lines: list[str] = []
        channel_links: dict[str, list[str]] = {c: [] for c in self.channel_names}
        for r in self.telzino_resellers:
            channel_links[r.channel].append(f"telzino:{r.id}")
        for t in self.teli_tenants:
            channel_links[t.channel].append(f"{teli_source_name(t)}:{t.tenant_id}")
        for td in self.talkdesk_orgs:
            channel_links[td.channel].append(f"talkdesk-{td.slug}")
        customer_links: dict[str, list[str]] = {c: [] for c in self.customer_names}
        customer_channel: dict[str, str] = {}
        for o in self.telzino_orgs:
            customer_links[o.customer].append(f"telzino:{o.id}")
            customer_channel[o.customer] = self.telzino_reseller_by_id[o.reseller_id].channel
        for t in self.teli_tenants:
            for teli_org in t.organizations:
                customer = teli_org.customer
                customer_links[customer].append(f"{teli_source_name(t)}:{teli_org.unique_id}")
                customer_channel[customer] = t.channel
        for td in self.talkdesk_orgs:
            for a in td.accounts:
                customer_links[a.customer].append(f"talkdesk-{td.slug}:{a.id}")
                customer_channel[a.customer] = td.channel
        for key, name in self.channel_names.items():
            if len(channel_links[key]) < 2:
                continue  # a channel at one vendor needs no link
            lines += ["[[resellers]]", f'id = "{key}"', f'name = "{name}"']
            lines += [f"links = {_toml_list(channel_links[key])}", ""]
        for key, name in self.customer_names.items():
            if len(customer_links[key]) < 2:
                continue
            lines += ["[[organizations]]", f'id = "{key}"', f'name = "{name}"']
            lines += [f'reseller = "{customer_channel[key]}"']
            lines += [f"links = {_toml_list(customer_links[key])}", ""]
        return "\n".join(lines)


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{x}"' for x in items) + "]"


def teli_source_name(tenant: TeliTenant) -> str:
    """The connection name the sandbox advertises for a Teli tenant."""
    return f"teli-{tenant.channel}"


# ---------------------------------------------------------------------------------------------
# generation


def _slug(name: str) -> str:
    return name.lower().split()[0]


class _Generator:
    def __init__(self, seed: int, scale: Scale, start: date, end: date) -> None:
        self.seed = seed
        self.scale = scale
        self.start = start
        self.end = end
        self.days = (end - start).days + 1
        self.root = random.Random(seed)
        # month blocks: (month key, first window index, number of days in window)
        self.blocks: list[tuple[str, int, int]] = []
        day = start
        while day <= end:
            nxt = _month_start(day, -1)
            last = min(nxt - timedelta(days=1), end)
            self.blocks.append((month_key(day), (day - start).days, (last - day).days + 1))
            day = nxt

    def rng(self, *parts: object) -> random.Random:
        digest = hashlib.blake2b(repr((self.seed, *parts)).encode(), digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "big"))

    def daily(self, key: str, draw: DailyDraw) -> dict[str, array[int]]:
        """Per-field daily arrays, each month drawn from its own RNG."""
        out: dict[str, array[int]] = {}
        for month, offset, length in self.blocks:
            rng = self.rng(key, month)
            for i in range(length):
                for name, value in draw(rng).items():
                    arr = out.get(name)
                    if arr is None:
                        arr = out[name] = array("q", bytes(8 * self.days))
                    arr[offset + i] = value
        return out


def _agent_day(activity: float) -> DailyDraw:
    def draw(rng: random.Random) -> dict[str, int]:
        if rng.random() >= activity:
            return {"seconds": 0, "calls": 0}
        calls = rng.randint(1, 14)
        seconds = calls * rng.randint(35, 420) + rng.randint(0, 59)
        return {"seconds": seconds, "calls": calls}

    return draw


def _teli_user_day(activity: float) -> DailyDraw:
    def draw(rng: random.Random) -> dict[str, int]:
        if rng.random() >= activity:
            return dict.fromkeys(TELI_USER_FIELDS, 0)
        sms_out = rng.randint(0, 60)
        mms_out = rng.randint(0, 5)
        calls = rng.randint(0, 9)
        seconds = calls * rng.randint(20, 300)
        kb = rng.randint(0, seconds // 3) if seconds else 0
        return {
            "sms_out": sms_out,
            "sms_in": rng.randint(0, 30),
            "mms_out": mms_out,
            "mms_in": rng.randint(0, 3),
            "voice_calls": calls,
            "voice_seconds": seconds,
            "kb_seconds": kb,
            "cost_sms_cents": sms_out,  # 1 cent per outbound segment
            "cost_mms_cents": 3 * mms_out,
            "cost_voice_cents": (seconds + kb + 59) // 60 * 2,  # 2 cents per started minute
        }

    return draw


def _teli_unattributed_day(rng: random.Random) -> dict[str, int]:
    """Calls of an org's unassigned agents, priced like users' voice (2 cents per started
    minute of voice + KB seconds in the day)."""
    if rng.random() >= 0.5:
        return dict.fromkeys(TELI_UNATTRIBUTED_FIELDS, 0)
    calls = rng.randint(1, 6)
    seconds = calls * rng.randint(20, 300)
    kb = rng.randint(0, seconds // 4)
    return {
        "voice_calls": calls,
        "voice_seconds": seconds,
        "kb_seconds": kb,
        "cost_voice_cents": (seconds + kb + 59) // 60 * 2,
    }


def _unlisted_agent_day(rng: random.Random) -> dict[str, int]:
    """Seconds of agents a Telzino report no longer lists (deleted ones): fewer, shorter days."""
    if rng.random() >= 0.3:
        return {"seconds": 0}
    return {"seconds": rng.randint(1, 6) * rng.randint(35, 300) + rng.randint(0, 59)}


def _teli_org_day(rng: random.Random) -> dict[str, int]:
    rentals = 1 if rng.random() < 0.04 else 0
    purchases = 1 if rng.random() < 0.01 else 0
    brands = 1 if rng.random() < 0.005 else 0
    kbs = 1 if rng.random() < 0.005 else 0
    return {
        "api_requests": rng.randint(0, 4000),
        "api_storage_cents": rng.randint(0, 3),
        "phone_rentals": rentals,
        "phone_purchases": purchases,
        "brand_registrations": brands,
        "kbs_created": kbs,
        "cost_other_cents": 115 * rentals + 100 * purchases + 400 * brands + 250 * kbs,
    }


def _series(arrays: dict[str, array[int]], names: Iterable[str], days: int) -> dict[str, Series]:
    return {n: Series(arrays.get(n, array("q", bytes(8 * days)))) for n in names}


def generate(
    seed: int = 7, scale: str = "S", *, end: date | None = None, start: date | None = None
) -> Dataset:
    """Build the dataset. `end` defaults to today (UTC); the window starts on the first day of
    the month `Scale.months - 1` months before `end`'s month unless `start` is given."""
    size = SCALES[scale]
    end = end or datetime.now(UTC).date()
    start = start or _month_start(end, size.months - 1)
    gen = _Generator(seed, size, start, end)
    root = gen.root
    created = datetime.combine(start, datetime.min.time(), UTC)

    channels = [
        f"ch{i}" if i >= len(_CHANNEL_NAMES) else _slug(_CHANNEL_NAMES[i])
        for i in range(size.resellers)
    ]
    channel_names = {
        c: (_CHANNEL_NAMES[i] if i < len(_CHANNEL_NAMES) else f"Channel {i}")
        for i, c in enumerate(channels)
    }
    # Which vendors each channel resells: every one has Telzino; Teli skips every third channel,
    # Talkdesk every third from the second, so some channels are at one or two vendors only.
    has_teli = {c: i % 3 != 2 for i, c in enumerate(channels)}
    has_talkdesk = {c: i % 3 != 1 or i == 1 for i, c in enumerate(channels)}

    telzino_resellers = [
        TelzinoReseller(
            id=_uuid(root), name=None if i == 2 else f"{channel_names[c]} Telzino", channel=c
        )
        for i, c in enumerate(channels)
    ]
    reseller_of = {r.channel: r for r in telzino_resellers}
    teli_tenants = [
        TeliTenant(
            tenant_id=f"tenant_{c}", api_key=f"teli-sandbox-key-{c}", channel=c, organizations=[]
        )
        for c in channels
        if has_teli[c]
    ]
    tenant_of = {t.channel: t for t in teli_tenants}
    talkdesk_orgs = [
        TalkdeskOrg(
            slug=c,
            name=channel_names[c],
            channel=c,
            client_id=f"talkdesk-{c}",
            client_secret=f"talkdesk-sandbox-secret-{c}",
            accounts=[],
        )
        for c in channels
        if has_talkdesk[c]
    ]
    talkdesk_of = {o.channel: o for o in talkdesk_orgs}

    customer_names: dict[str, str] = {}
    telzino_orgs: list[TelzinoOrg] = []
    for k in range(size.organizations):
        channel = channels[k % len(channels)]
        base = _CUSTOMER_NAMES[k % len(_CUSTOMER_NAMES)]
        name = base if k < len(_CUSTOMER_NAMES) else f"{base} {k // len(_CUSTOMER_NAMES) + 1}"
        key = f"cust{k:04d}"
        customer_names[key] = name
        crng = gen.rng("customer", k)
        # presence: 0 = everywhere the channel is, then single-vendor customers for variety
        # (k // channels shifts it when the channel count is a multiple of 5, so every channel
        # still gets every pattern)
        pattern = (k + (k // len(channels) if len(channels) % 5 == 0 else 0)) % 5
        in_telzino = pattern in (0, 1, 2)
        in_teli = has_teli[channel] and pattern in (0, 3, 2)
        in_talkdesk = has_talkdesk[channel] and pattern in (0, 4)
        if not (in_telzino or in_teli or in_talkdesk):
            in_telzino = True

        if in_telzino:
            org_id = _uuid(crng)
            n_agents = (
                size.agents_per_org
                if size.agents_per_org is not None
                else (0 if k == 7 else crng.randint(1, 4))
            )
            agents = []
            for j in range(n_agents):
                arng = gen.rng("agent", k, j)
                agent_id = _uuid(arng)
                # zero-usage agents and a zero-usage customer (k == 12) for the empty paths
                activity = 0.0 if (j == 3 or k == 12) else arng.uniform(0.3, 0.9)
                arrays = gen.daily(f"agent/{k}/{j}", _agent_day(activity))
                unnamed = (k + j) % 6 == 5
                agents.append(
                    TelzinoAgent(
                        id=agent_id,
                        organization_id=org_id,
                        name=None if unnamed else _AGENT_NAMES[j % len(_AGENT_NAMES)],
                        external_id=(None if (unnamed and j % 2) else f"ext-{k:04d}-{j}"),
                        description=f"Voice agent {j + 1} of {name}",
                        created_at=created,
                        seconds=Series(arrays.get("seconds", array("q", bytes(8 * gen.days)))),
                        calls=Series(arrays.get("calls", array("q", bytes(8 * gen.days)))),
                    )
                )
            unlisted = None
            if agents and k % 3 == 1:  # every third org with agents had agents now unlisted
                arrays = gen.daily(f"unlisted/{k}", _unlisted_agent_day)
                unlisted = Series(arrays.get("seconds", array("q", bytes(8 * gen.days))))
            telzino_orgs.append(
                TelzinoOrg(
                    id=org_id,
                    reseller_id=reseller_of[channel].id,
                    name=None if k % 9 == 2 else name,
                    customer=key,
                    agents=agents,
                    unlisted_seconds=unlisted,
                )
            )

        if in_teli:
            tenant = tenant_of[channel]
            ms = 1_760_000_000_000 + k * 86_400_000 + crng.randint(0, 9_999_999)
            org_uid = f"{ms}x{crng.randint(10**17, 10**18 - 1)}"
            n_users = (
                size.users_per_org
                if size.users_per_org is not None
                else (0 if k == 17 else crng.randint(1, 3))
            )
            users = []
            for j in range(n_users):
                urng = gen.rng("user", k, j)
                activity = 0.0 if j == 2 else urng.uniform(0.4, 0.95)
                arrays = gen.daily(f"user/{k}/{j}", _teli_user_day(activity))
                person = _USER_NAMES[(k + j) % len(_USER_NAMES)]
                users.append(
                    TeliUser(
                        unique_id=f"{ms + j + 1}x{urng.randint(10**17, 10**18 - 1)}",
                        id=_uuid(urng),
                        name=person,
                        email=f"{person.split()[0].lower()}.{k}.{j}@example.com",
                        permission="admin" if j == 0 else "user",
                        status="active",
                        org_unique_id=org_uid,
                        created_at=created,
                        series=_series(arrays, TELI_USER_FIELDS, gen.days),
                    )
                )
            org_arrays = gen.daily(f"teliorg/{k}", _teli_org_day)
            unattributed = None
            if k % 2 == 1:  # about half the orgs have calls no user is credited with
                arrays = gen.daily(f"teliorg-unattributed/{k}", _teli_unattributed_day)
                unattributed = _series(arrays, TELI_UNATTRIBUTED_FIELDS, gen.days)
            tenant.organizations.append(
                TeliOrg(
                    unique_id=org_uid,
                    id=_uuid(crng),
                    name=name,
                    status="suspended" if k % 11 == 10 else "active",
                    tenant_id=tenant.tenant_id,
                    customer=key,
                    created_at=created,
                    users=users,
                    series=_series(org_arrays, TELI_ORG_FIELDS, gen.days),
                    unattributed=unattributed,
                )
            )

        if in_talkdesk:
            td = talkdesk_of[channel]
            account_id = _hex(crng, 24)
            # one account bills in EUR, one in both currencies, the rest in USD
            currencies = (
                ("EUR",) if k % 10 == 4 else ("USD", "EUR") if k % 10 == 0 and k else ("USD",)
            )
            rows = _talkdesk_rows(gen, account_id, k, currencies)
            td.accounts.append(
                TalkdeskAccount(
                    id=account_id,
                    name=f"{_slug(name)}-{k}",
                    company_name=name,
                    status="ACTIVE" if k % 7 else "IN_TRIAL",
                    customer=key,
                    rows=rows,
                )
            )

    return Dataset(
        seed=seed,
        scale=scale,
        start=start,
        end=end,
        telzino_resellers=telzino_resellers,
        telzino_orgs=telzino_orgs,
        teli_tenants=teli_tenants,
        talkdesk_orgs=talkdesk_orgs,
        channel_names=channel_names,
        customer_names=customer_names,
    )


def _talkdesk_rows(
    gen: _Generator, account_id: str, k: int, currencies: tuple[str, ...]
) -> list[TalkdeskRow]:
    rows: list[TalkdeskRow] = []
    for month, _offset, _length in gen.blocks:
        rng = gen.rng("talkdesk", k, month)
        more = gen.rng("talkdesk-more", k, month)
        for p_index, product in enumerate(_TALKDESK_PRODUCTS):
            if not product.every_month and rng.random() < 0.25:
                continue  # not every product is used every month
            # The original draw, kept so these rows keep their values: one draw per unit kind,
            # the product's own kind taken.
            drawn = {
                "MINUTES": rng.randint(0, 9000),
                "SECONDS": rng.randint(0, 200_000),
                "SEGMENTS": rng.randint(0, 5000),
                "NUMBERS": rng.randint(1, 6),
                "REQUESTS": rng.randint(0, 90_000),
            }[product.unit]
            units = drawn if product.units is None else more.randint(*product.units)
            discounted = rng.random() < 0.15
            currency = currencies[p_index % len(currencies)]
            rows.append(_usage_row(account_id, month, product, currency, units, discounted))
        for p_index, product in enumerate(_TALKDESK_MORE_PRODUCTS, len(_TALKDESK_PRODUCTS)):
            if not product.every_month and more.random() < 0.25:
                continue
            assert product.units is not None
            units = more.randint(*product.units)
            discounted = more.random() < 0.15
            currency = currencies[p_index % len(currencies)]
            rows.append(_usage_row(account_id, month, product, currency, units, discounted))
        for pid, aggr, kind, desc, chance, amounts in _TALKDESK_WALLET:
            if more.random() >= chance:
                continue
            amount = Decimal(more.choice(amounts))
            rows.append(
                TalkdeskRow(
                    id=_talkdesk_row_id(account_id, month, pid, currencies[0]),
                    account_id=account_id,
                    product_id=pid,
                    aggr_product_id=aggr,
                    month=month,
                    type=kind,
                    description=desc,
                    currency=currencies[0],
                    direction=None,
                    resolution=None,
                    unit="OTHER",
                    price=amount,
                    wallet_name="contact center",
                    number_of_units=1,
                    total_amount=amount,
                )
            )
    return rows


def _talkdesk_row_id(account_id: str, month: str, product_id: str, currency: str) -> str:
    return hashlib.md5(f"{account_id}/{month}/{product_id}/{currency}".encode()).hexdigest()


def _usage_row(
    account_id: str, month: str, product: _Product, currency: str, units: int, discounted: bool
) -> TalkdeskRow:
    price = Decimal(product.price)
    if currency == "EUR":
        price = (price * _EUR_PRICE_FACTOR).quantize(Decimal("0.0001"))
    amount = price * units
    if discounted:  # a discounted line: total_amount is not price x units
        amount = amount * Decimal("0.90")
    return TalkdeskRow(
        id=_talkdesk_row_id(account_id, month, product.product_id, currency),
        account_id=account_id,
        product_id=product.product_id,
        aggr_product_id=product.aggr_product_id,
        month=month,
        type=product.type,
        description=product.description,
        currency=currency,
        direction=product.direction,
        resolution=product.resolution,
        unit=product.unit,
        price=price,
        wallet_name=product.wallet,
        number_of_units=units,
        total_amount=amount.quantize(Decimal("0.0001")),
    )


def iter_days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
