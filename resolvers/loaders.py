"""Per-request dataloaders: one per vendor resource, keyed by (connection, native id, range).

Every batch groups its keys by (connection, range) and makes the fewest calls that answer them
all: Telzino one report per id chunk (or one unfiltered report when that is fewer calls), Teli one
tenant-wide analytics call per range, Talkdesk one filtered, paged query per month set. Responses
that carry more than was asked prime the loader, so no later field asks again.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, TypeVar

from aiodataloader import DataLoader

from resolvers.ranges import DayRange, Month
from resolvers.sources import talkdesk, teli, telzino

if TYPE_CHECKING:
    from resolvers.catalog import Catalog
    from resolvers.connections import Connection
    from resolvers.service import GraphService

__all__ = ["Loaders"]

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


class _ShieldedLoader(DataLoader):
    """Each caller awaits its own shield of the shared per-key future. graphql-core cancels the
    sibling resolvers of a non-null field that failed; a cancelled waiter on the bare future
    would cancel it for every other resolver waiting on the same key (elsewhere in the query),
    and their CancelledError would abort the whole request."""

    def load(self, key: Any) -> asyncio.Future[Any]:
        return asyncio.shield(super().load(key))


class Loaders:
    """Built lazily per request, inside the running event loop; only what a query uses exists."""

    def __init__(self, service: GraphService, catalog: Catalog) -> None:
        self.service = service
        self.catalog = catalog
        self.naive = service.naive_loaders
        # the benchmark's N+1 baseline: every key its own call, nothing remembered
        self._options: dict[str, bool] = {"batch": False, "cache": False} if self.naive else {}

    def _loader(self, batch_load: Callable[..., Awaitable[list[Any]]]) -> DataLoader:
        return _ShieldedLoader(batch_load, **self._options)

    def _connection(self, source: str) -> Connection:
        return self.service.connections[source]

    # -- Telzino -------------------------------------------------------------------------------
    @cached_property
    def telzino_minutes(self) -> DataLoader:
        """(source, organization id, range) -> the org's minutes report row, or None."""

        async def fetch(
            group: tuple[str, DayRange], members: list[tuple[str, str, DayRange]]
        ) -> dict[tuple[str, str, DayRange], Any]:
            source, rng = group
            self._minutes_asked.setdefault(group, set()).update(key[1] for key in members)
            rows = await telzino.fetch_minutes(
                self._connection(source), rng, self._telzino_ids(source, members)
            )
            if not self.naive:  # the report may answer more than was asked
                for org_id, row in rows.items():
                    self.telzino_minutes.prime((source, org_id, rng), row)
            return {key: rows.get(key[1]) for key in members}

        return self._loader(partial(_grouped, group_of=_source_and_last, fetch=fetch))

    @cached_property
    def telzino_billing(self) -> DataLoader:
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
                rows = await asyncio.shield(self._billing_report(group, members))
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
            fetch = telzino.fetch_billing(self._connection(source), rng, ids)
            report = (None if ids is None else frozenset(ids), asyncio.ensure_future(fetch))
            self._billing_reports[group] = report
        return report[1]

    def _telzino_ids(
        self, source: str, members: list[tuple[str, str, DayRange]]
    ) -> list[str] | None:
        """The ids to filter by, or None when one unfiltered report is fewer calls."""
        wanted = sorted({key[1] for key in members})
        known = self.catalog.organizations_with_part(source)
        chunk = telzino.ids_per_call(self._connection(source))
        if not self.naive and (len(wanted) > chunk or (known and set(known) <= set(wanted))):
            return None
        return wanted

    # -- Teli ----------------------------------------------------------------------------------
    @cached_property
    def teli_organizations(self) -> DataLoader:
        """(source, range) -> {organization unique_id: analytics row} for the whole tenant."""

        async def load(keys: list[tuple[str, DayRange]]) -> list[Any]:
            outcomes = await asyncio.gather(
                *(teli.fetch_org_analytics(self._connection(s), r) for s, r in keys),
                return_exceptions=True,
            )
            return list(outcomes)

        return self._loader(load)

    @cached_property
    def teli_users_usage(self) -> DataLoader:
        """(source, organization unique_id, range) -> {user unique_id: analytics row}."""

        async def load(keys: list[tuple[str, str, DayRange]]) -> list[Any]:
            outcomes = await asyncio.gather(
                *(teli.fetch_user_analytics(self._connection(s), o, r) for s, o, r in keys),
                return_exceptions=True,
            )
            return list(outcomes)

        return self._loader(load)

    @cached_property
    def teli_usage(self) -> DataLoader:
        """(source, "organization" | "user", unique_id, range or None) -> usage counters.
        No range means the vendor's all-time counters."""

        async def load(keys: list[tuple[str, str, str, DayRange | None]]) -> list[Any]:
            outcomes = await asyncio.gather(
                *(teli.fetch_usage(self._connection(s), k, i, r) for s, k, i, r in keys),
                return_exceptions=True,
            )
            return list(outcomes)

        return self._loader(load)

    @cached_property
    def teli_users(self) -> DataLoader:
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
    def talkdesk_rows(self) -> DataLoader:
        """(source, account id, months) -> the account's monthly rows in those months."""

        async def fetch(
            group: tuple[str, tuple[Month, ...]],
            members: list[tuple[str, str, tuple[Month, ...]]],
        ) -> dict[tuple[str, str, tuple[Month, ...]], Any]:
            source, months = group
            wanted = sorted({key[1] for key in members})
            known = set(self.catalog.organizations_with_part(source))
            ids = None if not self.naive and known and known <= set(wanted) else wanted
            rows = await talkdesk.fetch_rows(self._connection(source), ids, months)
            return {key: rows.get(key[1], ()) for key in members}

        return self._loader(partial(_grouped, group_of=_source_and_last, fetch=fetch))
