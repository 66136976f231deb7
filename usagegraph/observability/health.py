"""Source health: statuses kept current from every upstream call, and the `/readyz` verdict.

`observe_call` turns each HTTP attempt the transports report into the per-source `SourceHealth`
the `sources` query shows (a 2xx is a success, anything else an error with the GraphQL code it
maps to). A source is ready when it answered successfully within the readiness window and its
latest outcome does not say it is down (unreachable, failing, or refusing our credentials).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from usagegraph.resolvers.service import SourceHealth

if TYPE_CHECKING:
    from usagegraph.clients.transport import CallRecord
    from usagegraph.resolvers.service import GraphService

__all__ = ["DOWN_CODES", "SourceReadiness", "failure_code", "observe_call", "readiness"]

log = logging.getLogger("usagegraph.health")

# Outcomes meaning the source cannot serve us now. Others (400, 404, 429, a broken body) prove
# it is reachable and accepted our credentials.
DOWN_CODES = frozenset(
    {"UPSTREAM_UNAVAILABLE", "UPSTREAM_TIMEOUT", "UPSTREAM_UNAUTHORIZED", "UPSTREAM_FORBIDDEN"}
)


def failure_code(record: CallRecord) -> str | None:
    """The GraphQL error code a failed attempt maps to; None for a success or for an attempt
    that says nothing about the source (cancelled, or refused by our own rate limiter)."""
    status = record.status
    if status is not None:
        if 200 <= status < 300:
            return None
        if status == 401 or (
            status == 400 and record.method == "POST" and "token" in record.endpoint
        ):
            return "UPSTREAM_UNAUTHORIZED"  # OAuth says "invalid_client" with 400 as often as 401
        if status == 403:
            return "UPSTREAM_FORBIDDEN"
        if status == 404:
            return "UPSTREAM_NOT_FOUND"
        if status == 429:
            return "UPSTREAM_RATE_LIMITED"
        return "UPSTREAM_BAD_REQUEST" if status < 500 else "UPSTREAM_UNAVAILABLE"
    error = record.error or ""
    if error == "cancelled" or error.startswith("Upstream"):
        return None
    return "UPSTREAM_TIMEOUT" if "Timeout" in error else "UPSTREAM_UNAVAILABLE"


def observe_call(statuses: Mapping[str, SourceHealth], record: CallRecord) -> None:
    """Update the source's status from one HTTP attempt."""
    status = statuses.get(record.source)
    if status is None:
        return
    now = datetime.now(UTC)
    if record.status is not None and 200 <= record.status < 300:
        status.last_success = now
        return
    code = failure_code(record)
    if code is None:
        return
    answer = (
        f"answered {record.status}" if record.status is not None else f"failed ({record.error})"
    )
    status.last_error = f"{record.source}: {record.endpoint} {answer}"
    status.last_error_code = code
    status.last_error_at = now


@dataclass(frozen=True)
class SourceReadiness:
    """One source's line in the `/readyz` body."""

    name: str
    kind: str
    ready: bool
    reason: str | None
    last_success: datetime | None
    last_error: str | None
    last_error_code: str | None
    last_error_at: datetime | None
    circuit: str | None

    def as_dict(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment is not None else None

        return {
            "name": self.name,
            "kind": self.kind,
            "ready": self.ready,
            "reason": self.reason,
            "last_success": iso(self.last_success),
            "last_error": self.last_error,
            "last_error_code": self.last_error_code,
            "last_error_at": iso(self.last_error_at),
            "circuit": self.circuit,
        }


def judge(
    status: SourceHealth, *, now: datetime, window: float, circuit: str | None = None
) -> SourceReadiness:
    """Is this source ready, and if not, why (one short phrase)."""
    reason: str | None = None
    success = status.last_success
    if success is None:
        reason = "has not answered successfully yet"
        if status.last_error_code is not None:
            reason += f"; its last call failed ({status.last_error_code})"
    elif (now - success).total_seconds() > window:
        reason = f"no successful call in the last {window:g} s"
    elif (
        status.last_error_at is not None
        and status.last_error_at >= success
        and status.last_error_code in DOWN_CODES
    ):
        reason = f"its last call failed ({status.last_error_code})"
    return SourceReadiness(
        name=status.name,
        kind=status.kind,
        ready=reason is None,
        reason=reason,
        last_success=status.last_success,
        last_error=status.last_error,
        last_error_code=status.last_error_code,
        last_error_at=status.last_error_at,
        circuit=circuit,
    )


def _stale(status: SourceHealth, now: datetime, window: float) -> bool:
    return status.last_success is None or (now - status.last_success).total_seconds() > window


async def readiness(
    service: GraphService, *, window: float, probe_timeout: float
) -> tuple[bool, list[SourceReadiness]]:
    """Every source's readiness. Sources never called (or idle past the window) are probed once
    through discovery (`service.probe()`: past the result cache, single-flight), waiting at most
    `probe_timeout` seconds, so an idle replica does not fall out of rotation."""
    now = datetime.now(UTC)
    idle = [name for name, s in service.statuses.items() if _stale(s, now, window)]
    if idle:
        try:
            # probe() shields its discovery: timing out here leaves it running for the next probe.
            # It skips the cache: with Redis shared by replicas, cache hits say nothing about
            # whether this replica can reach the source.
            await asyncio.wait_for(service.probe(idle), timeout=probe_timeout)
        except TimeoutError:
            log.warning("readiness probe: discovery did not finish within %g s", probe_timeout)
        except Exception:
            log.exception("readiness probe: discovery failed")
        now = datetime.now(UTC)
    verdicts = [
        judge(status, now=now, window=window, circuit=_circuit(service, name))
        for name, status in service.statuses.items()
    ]
    return all(v.ready for v in verdicts), verdicts


def _circuit(service: GraphService, source: str) -> str | None:
    connection = service.connections.get(source)
    breaker = getattr(getattr(connection, "transport", None), "breaker", None)
    state = getattr(breaker, "state", None)
    if state is None:
        return None
    return str(getattr(state, "value", state))
