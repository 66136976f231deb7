"""No credential, token or internal URL ever reaches a caller, whatever the vendors do.

A fault suite runs a query touching every source and every usage path through the graph while
the sandbox fails in each way it can (401 from wrong credentials and from revoked tokens, 403,
429, 500, 503, malformed bodies, timeouts), both during discovery and after it. Every response
body and header is searched for every configured secret (client secrets and API keys, right and
wrong ones), every token the sandbox issued, and the sandbox's address; the captured logs for
the secrets and tokens (logs are the operator's: they may name upstream URLs).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.auth import client_for, started
from tests.fixtures.truth import last_full_month
from usagegraph.sandbox.control import Fault
from usagegraph.sandbox.dataset import TELZINO_CLIENT_SECRET, Dataset
from usagegraph.sandbox.server import SandboxServer
from usagegraph.settings import Settings, settings_from_sources

EVERYTHING = """
query Everything($first: Date!, $last: Date!) {
  resellers {
    id
    usage(range: {firstDay: $first, lastDay: $last}, partialMonths: WHOLE_MONTHS) {
      voice { seconds }
      sms { outboundSegments }
      costs { amount currency }
      coverage { complete sources { source status reason } }
      bySource { source nativeIds voice { seconds } costs { amount currency } }
    }
    organizations {
      id
      users { id usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } }
      agents { id usage(range: {firstDay: $first, lastDay: $last}) { voice { seconds } } }
      lifetimeUsage { voiceSeconds }
    }
  }
  sources { name lastError lastErrorCode warnings }
}
"""

# every way a vendor answers badly, each applied to all three vendors at once
FAULTS: dict[str, dict[str, Any]] = {
    "403": {"status": 403},
    "429": {"status": 429, "retry_after": 0.01},
    "500": {"status": 500},
    "503": {"status": 503},
    "malformed": {"malformed": True},
    "timeout": {"latency_ms": 300},
}
# fail fast: one attempt each, and timeouts well under the injected latency
FAST = {"max_attempts": 1, "timeout_connect": 0.5, "timeout_read": 0.1, "timeout_total": 0.2}


@dataclass
class Seen:
    """Everything that left the app (responses) or was logged, to search afterwards."""

    responses: list[str] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    error_codes: set[str] = field(default_factory=set)

    def add(self, response: httpx.Response) -> None:
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.responses.append(f"{response.status_code}\n{headers}\n{response.text}")
        if response.headers.get("content-type", "").startswith("application/json"):
            body = response.json()
            for error in body.get("errors") or []:
                self.error_codes.add(str((error.get("extensions") or {}).get("code")))
            for source in (body.get("data") or {}).get("sources") or []:
                self.error_codes.add(str(source["lastErrorCode"]))


def secrets_of(sources: list[dict[str, Any]]) -> set[str]:
    return {
        str(entry[key]) for entry in sources for key in ("client_secret", "api_key") if key in entry
    }


def issued_tokens(sandbox: SandboxServer) -> set[str]:
    return set(sandbox.control.tokens._tokens)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    logger = logging.getLogger("usagegraph")
    propagate = logger.propagate
    logger.propagate = True  # `serve` may have turned it off in this process
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        logger.propagate = propagate


async def run_everything(
    settings: Settings,
    sandbox: SandboxServer,
    seen: Seen,
    variables: dict[str, str],
    *,
    fault: dict[str, Any] | None = None,
    warm: bool = False,
) -> None:
    """One fresh app: optionally discover first (so the fault hits usage calls, not
    discovery), inject `fault` on every vendor, then run EVERYTHING over POST and GET."""
    sandbox.control.reset()
    async with started(settings) as app, client_for(app) as client:
        if warm:
            seen.add(await client.post("/graphql", json={"query": "{ organizations { id } }"}))
        seen.tokens |= issued_tokens(sandbox)
        if fault is not None:
            sandbox.control.inject(Fault(**fault))
        body = {"query": EVERYTHING, "variables": variables}
        seen.add(await client.post("/graphql", json=body))
        seen.tokens |= issued_tokens(sandbox)
        sandbox.control.tokens.revoke_all()  # the next call must refresh (or fail to)
        params = {"query": EVERYTHING, "variables": json.dumps(variables)}
        seen.add(await client.get("/graphql", params=params))
        seen.tokens |= issued_tokens(sandbox)
    sandbox.control.reset()


async def test_no_secret_token_or_internal_url_leaks_under_any_fault(
    sandbox: SandboxServer,
    directory_file: Path,
    dataset: Dataset,
    logs: pytest.LogCaptureFixture,
) -> None:
    first, last = last_full_month(dataset)
    variables = {"first": str(first), "last": str(last)}
    seen = Seen()
    entries = [{**entry, **FAST} for entry in sandbox.sources()]
    debug = {"debug": True}  # extensions.upstream lists every call: it must not leak either
    settings = settings_from_sources(entries, directory={"path": directory_file}, server=debug)

    await run_everything(settings, sandbox, seen, variables)  # healthy, then revoked tokens
    for fault in FAULTS.values():
        for warm in (False, True):
            await run_everything(settings, sandbox, seen, variables, fault=fault, warm=warm)
    # data calls refused after every token refresh (the token endpoints still work)
    for mount, path in (("telzino-api", "/v1"), ("teli", "/v1"), ("talkdesk", "/")):
        fault = {"mount": mount, "path": path, "status": 401}
        await run_everything(settings, sandbox, seen, variables, fault=fault, warm=True)
    # wrong credentials everywhere: every token request and every Teli call is a 401
    wrong = [
        {
            **entry,
            **{k: f"wrong-{k}-{entry['name']}" for k in ("client_secret", "api_key") if k in entry},
        }
        for entry in entries
    ]
    wrong_settings = settings_from_sources(wrong, directory={"path": directory_file}, server=debug)
    await run_everything(wrong_settings, sandbox, seen, variables, warm=True)

    # the suite really exercised the failures it claims to
    assert {
        "UPSTREAM_UNAUTHORIZED",
        "UPSTREAM_FORBIDDEN",
        "UPSTREAM_RATE_LIMITED",
        "UPSTREAM_UNAVAILABLE",
        "UPSTREAM_CONTRACT",
        "UPSTREAM_TIMEOUT",
    } <= seen.error_codes
    assert len(seen.tokens) >= 3

    secrets = secrets_of(entries) | secrets_of(wrong) | {TELZINO_CLIENT_SECRET}
    assert len(secrets) >= 2 * len(entries)
    base = sandbox.base_url  # e.g. http://127.0.0.1:41873
    internal = {base, base.split("//", 1)[1]}
    text = "\n".join(seen.responses)
    in_responses = [n[:12] + "…" for n in sorted(secrets | seen.tokens | internal) if n in text]
    assert in_responses == []
    assert "Traceback" not in text
    logged = logs.text
    assert "discovery of telzino failed" in logged  # the capture did see the failures
    in_logs = [n[:12] + "…" for n in sorted(secrets | seen.tokens) if n in logged]
    assert in_logs == []
