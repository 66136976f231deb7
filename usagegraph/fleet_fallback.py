"""A replica falling back from the fleet's shared state (Redis) to its own, said once and counted.

Features that coordinate replicas through Redis (the fleet-wide single flight in
`resolvers/cache/fleet.py`, shared vendor limits) keep working alone when Redis fails: slower or
less coordinated, never wrong or down. Each holds one `FleetFallback`: `fell_back(exc)` on every
operation that ran alone (counted in `usagegraph_fleet_fallback_total{feature}`; logged as a
warning only when the feature goes from shared to alone) and `shared()` when Redis answered again
(logged once, when it comes back).

Like `usagegraph.telemetry`, it imports nothing of the project above it: any layer may use it.
"""

from __future__ import annotations

import logging

from usagegraph.telemetry import record_fleet_fallback

__all__ = ["FleetFallback"]

log = logging.getLogger("usagegraph.fleet")


class FleetFallback:
    """Whether `feature` is currently shared by the fleet or running on this replica alone."""

    def __init__(self, feature: str) -> None:
        self.feature = feature
        self.alone = False

    def fell_back(self, exc: BaseException) -> None:
        """This operation ran on the replica's own state because Redis failed with `exc`."""
        record_fleet_fallback(self.feature)
        if not self.alone:
            self.alone = True
            log.warning(
                "%s: Redis failed (%s), this replica acts alone until it answers again",
                self.feature,
                type(exc).__name__,
            )

    def shared(self) -> None:
        """Redis answered: the fleet's shared state is in use (again)."""
        if self.alone:
            self.alone = False
            log.warning("%s: Redis answers again, shared by the fleet", self.feature)
