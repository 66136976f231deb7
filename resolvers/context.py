"""The per-request context: the app's graph service, the catalog, and lazily built loaders."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from graphql import GraphQLError
from strawberry.fastapi import BaseContext

from usagegraph.clients.protection import CallBudget
from usagegraph.resolvers.catalog import Catalog
from usagegraph.resolvers.loaders import Loaders
from usagegraph.resolvers.scope import EVERYONE, Identity
from usagegraph.resolvers.service import GraphService

__all__ = ["GraphContext"]


class GraphContext(BaseContext):
    """Loaders exist per request only: built inside the running loop, never shared."""

    def __init__(
        self, service: GraphService, identity: Identity = EVERYONE, caller: str | None = None
    ) -> None:
        super().__init__()
        self.service = service
        self.identity = identity  # who asks: a scoped key sees only its resellers' part
        self.budget = CallBudget(service.max_calls_per_source)
        # who pays for the upstream calls (each source's fair share, the quota per minute)
        self.caller = caller if caller is not None else f"key:{identity.name}"
        self.deadline_seconds = service.request_deadline  # for all its upstream waits
        self._catalog: Catalog | None = None
        # (selection kind, AST node ids) -> vendor kinds; the thousands of identical `usage`
        # fields of a list share one answer (see schema/selection.py)
        self.selection_kinds: dict[tuple[str, tuple[int, ...]], frozenset[str]] = {}
        # what schema/ahead.py resolved for whole lists: field plans per list field, and
        # (usage field's AST node ids, organization id) -> its Usage
        self.ahead_plans: dict[tuple[int, ...], Any] = {}
        self.usage_ahead: dict[tuple[tuple[int, ...], str], Any] = {}
        # errors of list and lookup fields that leave out a failed source (schema/left_out.py)
        self.left_out: list[GraphQLError] = []
        self.left_out_said: set[tuple[tuple[str | int, ...], tuple[str, ...]]] = set()

    async def load_catalog(self) -> Catalog:
        """Awaited once at the root, before any loader is used (an uneven await would split
        batches); nested resolvers then read `catalog` synchronously."""
        if self._catalog is None:
            catalog = await self.service.catalog()
            if self.identity.resellers is not None:
                # the one place scoping happens: every resolver reads this catalog
                catalog = self.service.scoped_catalog(catalog, self.identity.resellers)
            self._catalog = catalog
        return self._catalog

    @property
    def loaded_catalog(self) -> Catalog | None:
        """The catalog this request read, if it read one."""
        return self._catalog

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            raise RuntimeError("catalog used before a root resolver loaded it")
        return self._catalog

    def release(self) -> None:
        """Let go of everything the operation loaded, once its result is complete.

        graphql-core's execution context and the resolvers' `info` objects hold this context
        in reference cycles, so whatever it keeps would wait for a collection of the older
        generations, freed in long pauses of the next requests (measured: see
        docs/measurements.md#releasing-what-an-operation-loaded). Released, they go by
        reference counting."""
        loaders = self.__dict__.pop("loaders", None)
        if loaders is not None:
            loaders.release()
        self.selection_kinds.clear()
        self.ahead_plans.clear()
        self.usage_ahead.clear()

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(self.service, self.catalog)
