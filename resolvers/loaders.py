"""Per-request dataloaders: one per vendor resource, keyed by (connection, native id, range).

Every batch groups its keys by (connection, range) and makes the fewest calls that answer them
all: Telzino one report per id chunk (or one unfiltered report when that is fewer calls), Teli one
tenant-wide analytics call per range, Talkdesk one filtered, paged query per month set. Responses
that carry more than was asked prime the loader, so no later field asks again.

Every fetch goes through `GraphService.fetch`, the cross-request result cache, keyed by exactly
the params the batch would send. The loaders whose values make a usage figure (Telzino minutes,
Teli organization and user analytics, Talkdesk rows) answer `Fetched` values, so the usage knows
when its figures were fetched and whether they are a stale stand-in for a failed source; the
others (billing, all-time counters) never take a stale value, since nothing would show it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Mapping, Sequence
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from aiodataloader import DataLoader

from usagegraph.resolvers.cache import Fetched
from usagegraph.resolvers.ranges import DayRange, Month
from usagegraph.resolvers.sources import talkdesk, teli, telzino

if TYPE_CHECKING:
    from usagegraph.resolvers.catalog import Catalog
    from usagegraph.resolvers.connections import Connection
    from usagegraph.resolvers.service import GraphService

__all__ = ["Loaders"]

# A Talkdesk connection with at most this many accounts is asked for all of them at once.
TALKDESK_UNFILTERED_ACCOUNTS = 30

K = TypeVar("K", bound=Hashable)
G = TypeVar("G", bound=Hashable)
V = TypeVar("V")


async def _grouped(
    keys: Sequence[K],
    group_of: Callable[[K], G],
    fetch: Callable[[G, list[K]], Awaitable[Mapping[K, V]]],
) -> list[V | Exception]:
    """Run one fetch per group concurrently; a failed group fails only its own keys."""
    groups: dict[G, list[K]] = defaultdict(list)
    for key in keys:
        groups[group_of(key)].append(key)
    group_list = list(groups.items())
    outcomes = await asyncio.gather(
        *(fetch(group, members) for group, members in group_list), return_exceptions=True
    )
    answers: dict[K, V | Exception] = {}
    for (_group, members), outcome in zip(group_list, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, Exception):
                raise outcome
            for key in members:
                answers[key] = outcome
        else:
            for key in members:
                answers[key] = outcome[key]
    return [answers[key] for key in keys]


def _source_and_last(key: tuple[Any, ...]) -> tuple[Any, Any]:
    """(source, ..., range-or-months) keys batch per source and range."""
    return key[0], key[-1]


class _ShieldedLoader(DataLoader[K, V]):
    """Each caller awaits its own shield of the shared per-key future. graphql-core cancels the
    sibling resolvers of a non-null field that failed; a cancelled waiter on the bare future
    would cancel it for every other resolver waiting on the same key (elsewhere in the query),
    and their CancelledError would abort the whole request."""

    def load(self, key: K) -> asyncio.Future[V]:
        return asyncio.shield(super().load(key))

    def future(self, key: K) -> asyncio.Future[V]:
        """The shared per-key future itself, for a caller that waits on many of them under one
        shield of its own (resolvers/usage.py: a dashboard waits on thousands of parts, and a
        shield per part cost a future and two callbacks each). Never cancel it."""
        return super().load(key)


# Keys and values stay untyped: a key carries a Part's native_id, optional in Part (a Talkdesk
# reseller has none) though every organization's part has one; each property's docstring says
# what its keys and values are.
Loader = _ShieldedLoader[Any, Any]


class _LoaderOptions(TypedDict, total=False):
    batch: bool
    cache: bool


# what `Loaders.release` keeps: what it was built with, not what it loaded
_KEPT = frozenset({"service", "catalog", "naive", "_options"})


class Loaders:
    """Built lazily per request, inside the running event loop; only what a query uses exists."""

    def __init__(self, service: GraphService, catalog: Catalog) -> None:
        self.service = service
        self.catalog = catalog
        self.naive = service.naive_loaders
        # the benchmark's N+1 baseline: every key its own call, nothing remembered
        self._options = _LoaderOptions(batch=False, cache=False) if self.naive else _LoaderOptions()

    def release(self) -> None:
        """Forget what this request loaded: every loader's cache and the reports kept aside.

        Each loader's batch function closes over this object, a reference cycle only the
        garbage collector's older generations would break; emptied here, the loaded reports
        are freed by reference counting as soon as the operation ends."""
        for name, value in list(vars(self).items()):
            if isinstance(value, DataLoader):
                value.clear_all()
            if name not in _KEPT:
                del self.__dict__[name]

    def _loader(
        self, batch_load: Callable[[list[K]], Coroutine[Any, Any, list[V]]]
    ) -> _ShieldedLoader[K, V]:
        return _ShieldedLoader(batch_load, **self._options)

    def _connection(self, source: str) -> Connection:
        return self.service.connections[source]

    # -- Telzino -------------------------------------------------------------------------------
    @cached_property
    def telzino_minutes(self) -> Loader:
        """(source, organization id, range) -> Fetched(the org's minutes report row, or None)."""

        async def fetch(
            group: tuple[str, DayRange], members: list[tuple[str, str, DayRange]]
        ) -> dict[tuple[str, str, DayRange], Any]:
            source, rng = group
            self._minutes_asked.setdefault(group, set()).update(key[1] for key in members)
            conn = self._connection(source)
            ids = self._telzino_ids(source, members)
            report = await self.service.fetch(
                source,
                "fetch_minutes",
                (rng, ids),
                lambda: telzino.fetch_minutes(conn, rng, ids),
                span=rng,
            )
            rows = report.value
            if not self.naive:  # the report may answer more than was asked
                for org_id, row in rows.items():
                    self.telzino_minutes.prime((source, org_id, rng), report.with_value(row))
            return {key: report.with_value(rows.get(key[1])) for key in members}

        return self._loader(partial(_grouped, group_of=_source_and_last, fetch=fetch))

    @cached_property
    def telzino_billing(self) -> Loader:
        """(source, organization id, range) -> the org's billing-report row, or None."""

        async def fetch(
            group: tuple[str, DayRange], members: list[tuple[str, str, DayRange]]
        ) -> dict[tuple[str, str, DayRange], Any]:
            source, rng = group
            if self.naive:
                rows = await telzino.fetch_billing(
                    self._connection(source), rng, self._telzino_ids(source, members)
                )
            else:
                report: Fetched[Any] = await asyncio.shield(self._billing_report(group, members))
                rows = report.value
            return {key: rows.get(key[1]) for key in members}

        return self._loader(partial(_grouped, group_of=_source_and_last, fetch=fetch))

    @cached_property
    def _minutes_asked(self) -> dict[tuple[str, DayRange], set[str]]:
        """(source, range) -> the organizations the minutes report was asked for."""
        return {}

    @cached_property
    def _billing_reports(
        self,
    ) -> dict[tuple[str, DayRange], tuple[frozenset[str] | None, asyncio.Future[Any]]]:
        """(source, range) -> (the ids a billing report covers, None for all; its fetch)."""
        return {}

    def _billing_report(
        self, group: tuple[str, DayRange], members: list[tuple[str, str, DayRange]]
    ) -> asyncio.Future[Any]:
        """One billing report per (source, range) for every organization whose minutes this
        request asked: `billing` fields resolve at uneven times (each after its whole usage,
        i.e. after its slowest vendor), so a report per batch would split the bound. A later
        batch the running report does not cover (rare) gets a report of its own."""
        source, rng = group
        wanted = {key[1] for key in members}
        report = self._billing_reports.get(group)
        if report is None or (report[0] is not None and not wanted <= report[0]):
            asked = self._minutes_asked.get(group, set()) | wanted
            ids = self._telzino_ids(source, [(source, o, rng) for o in asked])
            conn = self._connection(source)
            fetch = self.service.fetch(
                source,
                "fetch_billing",
                (rng, ids),
                lambda: telzino.fetch_billing(conn, rng, ids),
                span=rng,
                serve_stale=False,  # billing rows carry no coverage that could show it
            )
            report = (None if ids is None else frozenset(ids), asyncio.ensure_future(fetch))
            self._billing_reports[group] = report
        return report[1]

    def _telzino_ids(
        self, source: str, members: list[tuple[str, str, DayRange]]
    ) -> list[str] | None:
        """The ids to filter by, or None for one unfiltered report.

        Unfiltered whenever the account fits one id chunk anyway, or the result cache is on:
        it is the same one call, and it answers (and primes) every organization, so a later
        batch in the same query or a later query for other organizations, such as the next page
        of a connection, costs nothing more. Filtered only without a cache, where nothing could
        reuse the rest of a large account's report."""
        wanted = sorted({key[1] for key in members})
        known = self.catalog.organizations_with_part(source)
        chunk = telzino.ids_per_call(self._connection(source))
        if self.naive:
            return wanted
        if self.service.cache is not None:
            return None
        if len(wanted) > chunk or len(known) <= chunk or set(known) <= set(wanted):
            return None
        return wanted

    # -- Teli ----------------------------------------------------------------------------------
    @cached_property
    def teli_organizations(self) -> Loader:
        """(source, range) -> Fetched({organization unique_id: analytics row}), tenant-wide."""

        def one(source: str, rng: DayRange) -> Awaitable[Fetched[Any]]:
            conn = self._connection(source)
            return self.service.fetch(
                source,
                "fetch_org_analytics",
                (rng,),
                lambda: teli.fetch_org_analytics(conn, rng),
                span=rng,
            )

        async def load(keys: list[tuple[str, DayRange]]) -> list[Any]:
            outcomes = await asyncio.gather(*(one(s, r) for s, r in keys), return_exceptions=True)
            return list(outcomes)

        return self._loader(load)

    @cached_property
    def teli_users_usage(self) -> Loader:
        """(source, organization unique_id, range) -> Fetched({user unique_id: analytics row})."""

        def one(source: str, org_id: str, rng: DayRange) -> Awaitable[Fetched[Any]]:
            conn = self._connection(source)
            return self.service.fetch(
                source,
                "fetch_user_analytics",
                (org_id, rng),
                lambda: teli.fetch_user_analytics(conn, org_id, rng),
                span=rng,
            )

        async def load(keys: list[tuple[str, str, DayRange]]) -> list[Any]:
            outcomes = await asyncio.gather(
                *(one(s, o, r) for s, o, r in keys), return_exceptions=True
            )
            return list(outcomes)

        return self._loader(load)

    @cached_property
    def teli_usage(self) -> Loader:
        """(source, "organization" | "user", unique_id, range or None) -> usage counters.
        No range means the vendor's all-time counters."""

        async def one(source: str, subject: str, unique_id: str, rng: DayRange | None) -> Any:
            conn = self._connection(source)
            fetched = await self.service.fetch(
                source,
                "fetch_usage",
                (subject, unique_id, rng),
                lambda: teli.fetch_usage(conn, subject, unique_id, rng),
                span=rng,
                serve_stale=False,  # these counters carry no coverage that could show it
            )
            return fetched.value

        async def load(keys: list[tuple[str, str, str, DayRange | None]]) -> list[Any]:
            outcomes = await asyncio.gather(
                *(one(s, k, i, r) for s, k, i, r in keys), return_exceptions=True
            )
            return list(outcomes)

        return self._loader(load)

    @cached_property
    def teli_users(self) -> Loader:
        """(source, organization unique_id) -> the organization's users (cached discovery)."""

        async def load(keys: list[tuple[str, str]]) -> list[Any]:
            outcomes = await asyncio.gather(
                *(self.service.teli_users(self.catalog, s, o) for s, o in keys),
                return_exceptions=True,
            )
            return list(outcomes)

        return self._loader(load)

    # -- Talkdesk ------------------------------------------------------------------------------
    @cached_property
    def talkdesk_rows(self) -> Loader:
        """(source, account id, months) -> Fetched(the account's monthly rows in those months)."""

        async def fetch(
            group: tuple[str, tuple[Month, ...]],
            members: list[tuple[str, str, tuple[Month, ...]]],
        ) -> dict[tuple[str, str, tuple[Month, ...]], Any]:
            source, months = group
            wanted = sorted({key[1] for key in members})
            known = set(self.catalog.organizations_with_part(source))
            # all accounts when a connection has few (one filter of months only, one cache
            # entry for every account), else just the ones asked for
            few = len(known) <= TALKDESK_UNFILTERED_ACCOUNTS
            ids = None if not self.naive and (few or known <= set(wanted)) else wanted
            conn = self._connection(source)
            fetched = await self.service.fetch(
                source,
                "fetch_rows",
                (ids, months),
                lambda: talkdesk.fetch_rows(conn, ids, months),
                span=months,
            )
            rows = fetched.value
            return {key: fetched.with_value(rows.get(key[1], ())) for key in members}

        return self._loader(partial(_grouped, group_of=_source_and_last, fetch=fetch))
