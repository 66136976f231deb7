"""Build one client per configured source: a pooled httpx client, a transport, a vendor client.
(The graph's view of a connection, what these are wrapped in, is `resolvers/connections.py`.)

Opened in the app's lifespan and closed on shutdown, so each source keeps one connection pool
for the life of the process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from usagegraph.clients.auth import Auth
from usagegraph.clients.fairness import CallerQuota, Quota
from usagegraph.clients.http_client import Timeouts, build_http_client
from usagegraph.clients.policy import TransportPolicy
from usagegraph.clients.protection import Circuit, CircuitBreaker, RateLimit, TokenBucket
from usagegraph.clients.retries import RetryPolicy
from usagegraph.clients.talkdesk import TalkdeskClient, talkdesk_auth
from usagegraph.clients.teli import TeliClient, teli_auth
from usagegraph.clients.telzino import TelzinoClient, telzino_auth
from usagegraph.clients.transport import CallRecord, SourceTransport
from usagegraph.fleet_link import FleetLink
from usagegraph.resolvers.connections import Connection
from usagegraph.settings import Settings, Source, TalkdeskSource, TeliSource, TelzinoSource
from usagegraph.shared_breaker import SharedCircuitBreaker
from usagegraph.shared_limits import Gcra, SharedQuota, SharedRateLimit

__all__ = ["open_connections"]


def _policy(source: Source, calls_per_minute: int, fleet: FleetLink | None) -> TransportPolicy:
    """The source's settings as its transport's policy, with fresh limiter, breaker and quota:
    with `fleet`, the fleet's (a vendor's limits are per account, not per replica)."""
    rate: RateLimit = TokenBucket(source.rate_limit_per_second, source.rate_limit_burst)
    own_breaker = CircuitBreaker(
        failure_threshold=source.breaker_failures, cool_down=source.breaker_cooldown_seconds
    )
    breaker: Circuit = own_breaker
    # each caller's share of this source (slots and tokens are taken in fair turns)
    quota: Quota | None = CallerQuota(calls_per_minute) if calls_per_minute > 0 else None
    if fleet is not None:
        gcra = Gcra(fleet)
        rate = SharedRateLimit(
            gcra, source.name, source.rate_limit_per_second, source.rate_limit_burst
        )
        breaker = SharedCircuitBreaker(fleet, source.name, own_breaker)
        if calls_per_minute > 0:
            quota = SharedQuota(gcra, source.name, calls_per_minute)
    return TransportPolicy(
        timeouts=Timeouts(
            connect=source.timeout_connect, read=source.timeout_read, total=source.timeout_total
        ),
        retry=RetryPolicy(max_attempts=source.max_attempts),
        max_concurrency=source.max_concurrency,
        rate_limiter=rate,
        breaker=breaker,
        quota=quota,
    )


def _transport(
    source: Source,
    stack: AsyncExitStack,
    on_call: Callable[[CallRecord], None] | None,
    calls_per_minute: int,
    fleet: FleetLink | None,
) -> SourceTransport:
    policy = _policy(source, calls_per_minute, fleet)
    http = build_http_client(policy.timeouts, max_connections=source.max_concurrency)
    stack.push_async_callback(http.aclose)
    auth: Auth
    if isinstance(source, TelzinoSource):
        auth = telzino_auth(
            token_url=str(source.token_url),
            client_id=source.client_id,
            client_secret=source.client_secret.get_secret_value(),
            audience=source.audience,
        )
    elif isinstance(source, TeliSource):
        auth = teli_auth(source.api_key.get_secret_value())
    else:
        auth = talkdesk_auth(
            token_url=str(source.token_url),
            client_id=source.client_id,
            client_secret=source.client_secret.get_secret_value(),
            scope=source.scope,
        )
    return SourceTransport(source=source.name, http=http, auth=auth, policy=policy, on_call=on_call)


def _connection(source: Source, transport: SourceTransport) -> Connection:
    if isinstance(source, TelzinoSource):
        telzino = TelzinoClient(
            transport, reports_url=str(source.reports_url), billing_url=str(source.billing_url)
        )
        return Connection(source.name, "telzino", telzino, transport)
    if isinstance(source, TeliSource):
        teli = TeliClient(transport, base_url=source.api_host, usage_url=source.usage_host)
        return Connection(source.name, "teli", teli, transport)
    assert isinstance(source, TalkdeskSource)
    talkdesk = TalkdeskClient(transport, base_url=str(source.base_url))
    return Connection(source.name, "talkdesk", talkdesk, transport)


@asynccontextmanager
async def open_connections(
    settings: Settings,
    *,
    on_call: Callable[[CallRecord], None] | None = None,
    fleet: FleetLink | None = None,
) -> AsyncIterator[dict[str, Connection]]:
    """Every configured source as a `Connection`; their pools close when the context exits.
    With `fleet`, the sources' limits and breakers are shared by every replica."""
    async with AsyncExitStack() as stack:
        per_minute = settings.limits.upstream_calls_per_minute
        yield {
            s.name: _connection(s, _transport(s, stack, on_call, per_minute, fleet))
            for s in settings.sources
        }
