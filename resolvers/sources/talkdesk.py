"""Talkdesk: one OAuth client per connection (our reseller), each account an organization.

Talkdesk bills by calendar month and has no agent or user level.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from clients.talkdesk import TalkdeskUsageRow
from resolvers.catalog import DiscoveredOrganization, DiscoveredReseller, SourceDiscovery
from resolvers.connections import Connection
from resolvers.metrics import Metrics, Money, add_costs
from resolvers.ranges import Month

__all__ = ["discover", "fetch_rows", "rows_metrics"]


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


def _units(rows: Iterable[TalkdeskUsageRow]) -> int:
    total = sum((r.number_of_units for r in rows), Decimal(0))
    return int(total) if total == total.to_integral_value() else int(total.to_integral_value())


def rows_metrics(rows: Sequence[TalkdeskUsageRow]) -> Metrics:
    """Line items to metrics: CALL rows are voice, MESSAGE/SEGMENTS rows are SMS by direction,
    API_REQUEST rows are requests, NUMBER rows are phone numbers billed; every row costs."""
    voice = [r.voice_seconds for r in rows if r.voice_seconds is not None]
    sms = [r for r in rows if r.type == "MESSAGE" and r.unit == "SEGMENTS"]
    return Metrics(
        voice_seconds=sum(voice),
        sms_inbound_segments=_units(r for r in sms if r.direction == "INBOUND"),
        sms_outbound_segments=_units(r for r in sms if r.direction != "INBOUND"),
        api_requests=_units(r for r in rows if r.type == "API_REQUEST"),
        phone_number_rentals=_units(r for r in rows if r.type == "NUMBER"),
        costs=add_costs([Money(r.total_amount, r.currency) for r in rows]) or (),
    )
