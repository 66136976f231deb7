"""Each vendor's own rows, exposed under `bySource` for users who need the native figures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import strawberry

from usagegraph.clients.errors import UpstreamError
from usagegraph.resolvers.context import GraphContext
from usagegraph.resolvers.errors import SourceFailure
from usagegraph.resolvers.ranges import DayRange
from usagegraph.schema.money import Money

__all__ = [
    "TalkdeskLineItem",
    "TeliOrganizationReport",
    "TelzinoBilling",
    "TelzinoOrganizationReport",
]


@strawberry.type(description="Telzino billing-report figures for one organization.")
class TelzinoBilling:
    billed_minutes: Decimal = strawberry.field(
        description="`voice_minutes` as the billing report sent it (2 decimals)."
    )
    billed_seconds: int = strawberry.field(description="The billed minutes as exact seconds.")
    active_agents: int = strawberry.field(
        description="Agents with any voice time in the range (the report's `agent_count`)."
    )


@strawberry.type(description="A Telzino minutes-by-organization row.")
class TelzinoOrganizationReport:
    organization_id: strawberry.ID = strawberry.field(description="Telzino organization uuid.")
    organization_name: str = strawberry.field(
        description="As Telzino sent it (falls back to the id when unnamed)."
    )
    reseller_id: strawberry.ID = strawberry.field(description="Telzino reseller uuid.")
    reseller_name: str = strawberry.field(description="As Telzino sent it.")
    reported_minutes: Decimal = strawberry.field(
        description="`total_voice_minutes` exactly as reported (2 decimals)."
    )
    seconds: int = strawberry.field(description="Exact voice seconds derived from the agents.")
    agent_count: int = strawberry.field(description="Agents under the organization.")
    _source: strawberry.Private[str]
    _asked: strawberry.Private[DayRange]

    @classmethod
    def from_row(cls, row: Any, *, source: str, asked: DayRange) -> TelzinoOrganizationReport:
        return cls(
            organization_id=strawberry.ID(row.organization_id),
            organization_name=row.organization_name,
            reseller_id=strawberry.ID(row.reseller_id),
            reseller_name=row.reseller_name,
            reported_minutes=row.minutes,
            seconds=row.seconds,
            agent_count=row.agent_count,
            _source=source,
            _asked=asked,
        )

    @strawberry.field(description="The billing report's figures for the same range.")
    async def billing(self, info: strawberry.Info[GraphContext]) -> TelzinoBilling | None:
        key = (self._source, str(self.organization_id), self._asked)
        try:
            row = await info.context.loaders.telzino_billing.load(key)
        except UpstreamError as error:
            raise SourceFailure([error]) from None
        if row is None:
            return None
        return TelzinoBilling(
            billed_minutes=row.minutes,
            billed_seconds=row.seconds,
            active_agents=row.active_agent_count,
        )


@strawberry.type(description="A Teli organization analytics row (costs in USD).")
class TeliOrganizationReport:
    organization_id: strawberry.ID = strawberry.field(description="Teli organization unique_id.")
    organization_name: str = strawberry.field(description="As Teli sent it.")
    users_count: int = strawberry.field(description="Users in the organization.")
    sms_sent: int = strawberry.field(description="Outbound SMS segments.")
    sms_received: int = strawberry.field(description="Inbound SMS segments.")
    mms_sent: int = strawberry.field(description="Outbound MMS segments.")
    mms_received: int = strawberry.field(description="Inbound MMS segments.")
    voice_calls: int | None = strawberry.field(description="Calls.")
    voice_seconds: int = strawberry.field(description="Voice seconds, knowledge-base included.")
    api_requests: int = strawberry.field(description="API requests.")
    api_storage_cost: Money = strawberry.field(description="API storage cost.")
    phone_rentals: int = strawberry.field(description="Phone rental billing events.")
    phone_purchases: int = strawberry.field(description="Phone numbers purchased.")
    brand_registrations: int = strawberry.field(description="Brands registered.")
    knowledge_bases: int = strawberry.field(description="Knowledge bases.")
    total_cost: Money = strawberry.field(description="Total cost.")

    @classmethod
    def from_row(cls, row: Any) -> TeliOrganizationReport:
        return cls(
            organization_id=strawberry.ID(row.organization_unique_id),
            organization_name=row.name,
            users_count=row.users_count,
            sms_sent=row.sms.outbound,
            sms_received=row.sms.inbound,
            mms_sent=row.mms.outbound,
            mms_received=row.mms.inbound,
            voice_calls=row.voice.calls,
            voice_seconds=row.voice.total_seconds,
            api_requests=row.api_requests,
            api_storage_cost=Money.of(row.api_storage_cost, "USD"),
            phone_rentals=row.phone_rentals,
            phone_purchases=row.phone_purchases,
            brand_registrations=row.brand_registrations,
            knowledge_bases=row.kb_count,
            total_cost=Money.of(row.total_cost, "USD"),
        )


@strawberry.type(description="One Talkdesk monthly usage line (one product, one month).")
class TalkdeskLineItem:
    id: strawberry.ID = strawberry.field(description="Talkdesk's record id.")
    account_id: strawberry.ID = strawberry.field(description="Talkdesk account id.")
    month: str = strawberry.field(description="Calendar month, YYYY-MM.")
    product_id: str = strawberry.field(description="Talkdesk product id.")
    aggr_product_id: str = strawberry.field(description="Aggregated product id.")
    type: str = strawberry.field(description="Usage type, e.g. CALL, MESSAGE, NUMBER.")
    description: str = strawberry.field(description="The vendor's description.")
    direction: str | None = strawberry.field(description="INBOUND, OUTBOUND, OTHER or null.")
    resolution: str | None = strawberry.field(description="Interaction resolution or null.")
    unit: str = strawberry.field(description="Unit of numberOfUnits, e.g. MINUTES, SEGMENTS.")
    number_of_units: Decimal = strawberry.field(description="Units in the aggregate.")
    price: Money = strawberry.field(description="Price of one unit.")
    total_amount: Money = strawberry.field(
        description="The line's total as billed (discounts included; not price x units)."
    )
    wallet_name: str = strawberry.field(description="The wallet charged.")

    @classmethod
    def from_row(cls, row: Any) -> TalkdeskLineItem:
        return cls(
            id=strawberry.ID(row.id),
            account_id=strawberry.ID(row.account_id),
            month=row.month,
            product_id=row.product_id,
            aggr_product_id=row.aggr_product_id,
            type=row.type,
            description=row.description,
            direction=row.direction,
            resolution=row.resolution,
            unit=row.unit,
            number_of_units=row.number_of_units,
            price=Money.of(row.price, row.currency),
            total_amount=Money.of(row.total_amount, row.currency),
            wallet_name=row.wallet_name,
        )
