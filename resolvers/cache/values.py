"""What the result cache may hold: one value type per fetch name, and nothing else.

The names are the ones loaders and discovery pass to `GraphService.fetch`; the types are what
the fetch functions in `resolvers/sources/` answer. An entry is decoded as its key's type here
(`codec.py`), so a new fetch, or a cached model that changes shape, is registered here and
`CACHE_FORMAT` (results.py) is bumped. A fetch missing here is never cached (logged, counted).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from usagegraph.clients.talkdesk import TalkdeskUsageRow
from usagegraph.clients.teli import TeliOrganizationAnalyticsRow, TeliUsage, TeliUserAnalyticsRow
from usagegraph.clients.telzino import TelzinoBillingRow, TelzinoOrgMinutes
from usagegraph.resolvers.catalog import SourceDiscovery, UserNode

__all__ = ["FETCH_VALUES"]

FETCH_VALUES: Final[Mapping[str, Any]] = MappingProxyType(
    {
        # discovery (every vendor) and Teli's users per organization
        "discover": SourceDiscovery,
        "list_users": tuple[UserNode, ...],
        # Telzino: organization id -> its row of the minutes or billing report
        "fetch_minutes": dict[str, TelzinoOrgMinutes],
        "fetch_billing": dict[str, TelzinoBillingRow],
        # Teli: organization id -> tenant analytics row; user id -> the org's user analytics row
        "fetch_org_analytics": dict[str, TeliOrganizationAnalyticsRow],
        "fetch_user_analytics": dict[str, TeliUserAnalyticsRow],
        "fetch_usage": TeliUsage,
        # Talkdesk: account id -> its monthly rows
        "fetch_rows": dict[str, tuple[TalkdeskUsageRow, ...]],
    }
)
