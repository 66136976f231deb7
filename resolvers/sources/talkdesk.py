"""Talkdesk: one OAuth client per connection (our reseller), each account an organization.

Talkdesk bills by calendar month and has no agent or user level. Its rows are mapped to figures
by (`type`, `unit`), never by `type` alone (seed 004's own example is a `NUMBER` row counted in
`MINUTES`); docs/vendors.md has the table and the reasons:

| type, unit | figure |
|---|---|
| CALL, MINUTES / CALL, SECONDS | voice seconds (minutes x 60) |
| MESSAGE, SEGMENTS | SMS segments by direction: INBOUND, OUTBOUND, else "other direction" |
| API_REQUEST, REQUESTS | API requests |
| NUMBER, NUMBERS | phone-number rentals |
| RECHARGE, any / CREDIT_COMMIT, any | wallet movements (money put in, not a usage charge) |
| any other pair | "other usage", in the row's own type and unit |

Every row's `total_amount` is a cost in its currency except the wallet movements'.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from usagegraph.clients.errors import UpstreamContractError, UpstreamError
from usagegraph.clients.talkdesk import USAGE_ENDPOINT, TalkdeskUsageRow
from usagegraph.resolvers.catalog import DiscoveredOrganization, DiscoveredReseller, SourceDiscovery
from usagegraph.resolvers.connections import Connection
from usagegraph.resolvers.metrics import (
    Charge,
    Problem,
    Quantity,
    UsageMetrics,
    WalletAmount,
    add_costs,
    add_quantities,
    add_wallet,
)
from usagegraph.resolvers.ranges import Month

__all__ = ["WALLET_TYPES", "discover", "fetch_rows", "rows_metrics"]

WALLET_TYPES: Final = frozenset({"RECHARGE", "CREDIT_COMMIT"})

# (type, unit) -> (metric, seconds per unit for voice; 1 for counts)
_VOICE: Final = {("CALL", "MINUTES"): 60, ("CALL", "SECONDS"): 1}
_COUNTS: Final = {
    ("API_REQUEST", "REQUESTS"): "api_requests",
    ("NUMBER", "NUMBERS"): "phone_number_rentals",
}
_SMS: Final = ("MESSAGE", "SEGMENTS")
_SMS_BY_DIRECTION: Final = {"INBOUND": "sms_inbound_segments", "OUTBOUND": "sms_outbound_segments"}
_SMS_OTHER: Final = "sms_other_segments"
# what a row whose type or unit is unknown could have fed
_QUANTITIES: Final = (
    "voice_seconds",
    "sms_inbound_segments",
    "sms_outbound_segments",
    _SMS_OTHER,
    "api_requests",
    "phone_number_rentals",
    "other",
)


_NO_FLAWS: Final[dict[str, UpstreamContractError]] = {}


async def discover(conn: Connection) -> SourceDiscovery:
    accounts = await conn.talkdesk.accounts()
    return SourceDiscovery(
        source=conn.name,
        kind="talkdesk",
        resellers=(DiscoveredReseller(None, None),),
        organizations=tuple(
            DiscoveredOrganization(a.id, a.company_name or a.name, None) for a in accounts
        ),
    )


async def fetch_rows(
    conn: Connection, account_ids: Sequence[str] | None, months: Sequence[Month]
) -> Mapping[str, tuple[TalkdeskUsageRow, ...]]:
    rows = await conn.talkdesk.monthly_usage(account_ids=account_ids, months=months)
    by_account: dict[str, list[TalkdeskUsageRow]] = defaultdict(list)
    for row in rows:
        by_account[row.account_id].append(row)
    return {account: tuple(items) for account, items in by_account.items()}


class _Tally:
    """One account's rows added up, figure by figure, with what could not be counted."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.voice = Decimal(0)
        self.counts: dict[str, Decimal] = dict.fromkeys(
            ("sms_inbound_segments", "sms_outbound_segments", _SMS_OTHER, *_COUNTS.values()),
            Decimal(0),
        )
        self.other: list[Quantity] = []
        self.costs: list[Charge] = []
        self.wallet: list[WalletAmount] = []
        self.problems: list[Problem] = []

    def add(self, row: TalkdeskUsageRow) -> None:
        flaws = dict(row.problems) if row.problems else _NO_FLAWS
        kind, unit, units = row.type, row.unit, row.number_of_units
        if kind is None:  # nothing says what the row is: none of its figures can be trusted
            error = flaws["type"]
            self.problems += [(name, error) for name in (*_QUANTITIES, "costs", "wallet")]
            return
        self._money(row, kind, flaws)
        if kind in WALLET_TYPES:
            return
        if unit is None:
            self.problems += [(name, flaws["unit"]) for name in _QUANTITIES]
            return
        metric = self._metric(row, kind, unit)
        if units is None:
            self.problems.append((metric, flaws["number_of_units"]))
        elif metric == "voice_seconds":
            self.voice += units * _VOICE[(kind, unit)]
        elif metric == "other":
            self.other.append(Quantity(units, kind, unit))
        elif units == units.to_integral_value():
            self.counts[metric] += units
        else:  # half a segment or request is no count: refuse it rather than round it away
            self.problems.append((metric, _not_whole(self.source, row, units, unit)))

    def _money(
        self, row: TalkdeskUsageRow, kind: str, flaws: dict[str, UpstreamContractError]
    ) -> None:
        metric = "wallet" if kind in WALLET_TYPES else "costs"
        amount, currency = row.total_amount, row.currency
        if amount is None or currency is None:
            self.problems.append((metric, flaws.get("total_amount") or flaws["currency"]))
        elif metric == "wallet":
            self.wallet.append(WalletAmount(amount, kind, currency))
        else:
            self.costs.append(Charge(amount, currency))

    @staticmethod
    def _metric(row: TalkdeskUsageRow, kind: str, unit: str) -> str:
        if (kind, unit) in _VOICE:
            return "voice_seconds"
        if (kind, unit) == _SMS:
            return _SMS_BY_DIRECTION.get(row.direction or "", _SMS_OTHER)
        return _COUNTS.get((kind, unit), "other")

    def metrics(self) -> UsageMetrics:
        counts = {name: int(value) for name, value in self.counts.items()}
        return UsageMetrics(
            # each row's seconds are exact or sub-second; rounded once, for the account
            voice_seconds=int(self.voice.to_integral_value(rounding=ROUND_HALF_UP)),
            **counts,
            costs=add_costs(self.costs) or (),
            other=add_quantities(self.other) or (),
            wallet=add_wallet(self.wallet) or (),
            problems=tuple(self.problems),
        )


def _not_whole(source: str, row: TalkdeskUsageRow, units: Decimal, unit: str) -> UpstreamError:
    return UpstreamContractError(
        f"answered a body that breaks the contract: row {row.id or '?'} counts {units} "
        f"{unit}, not a whole number",
        source=source,
        endpoint=USAGE_ENDPOINT,
        status=200,
        field="number_of_units",
    )


def rows_metrics(source: str, rows: Sequence[TalkdeskUsageRow]) -> UsageMetrics:
    """One account's rows to figures, mapped by (type, unit) as the module docstring says;
    `source` (the connection) is named by the problems found here."""
    tally = _Tally(source)
    for row in rows:
        tally.add(row)
    return tally.metrics()
