"""The vendors' answers as the clients decode them, recorded from a running sandbox.

Each `Answer` is one body a client handed to its decoder (`clients.bodies.Body`), with the reader
and the arguments it passed, so it can be decoded again by either path. `every_kind` calls every
method of the three clients once (the Telzino agent listing to its last page); `dashboard` runs
the benchmark's dashboard cold in-process, which is what a real request decodes. Both take a
sandbox's `[[sources]]` entries (`SandboxServer.sources()`, or `GET /` of `usagegraph sandbox`).
`save` and `load` carry answers to another interpreter. Used by bench/decoding.py and
tests/clients/test_fast_path.py.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from usagegraph.clients import talkdesk, teli, telzino
from usagegraph.clients.bodies import Body
from usagegraph.clients.decoding import JsonReader
from usagegraph.clients.http_client import Timeouts, build_http_client
from usagegraph.clients.policy import TransportPolicy
from usagegraph.clients.talkdesk import TalkdeskClient, talkdesk_auth
from usagegraph.clients.teli import TeliClient, teli_auth
from usagegraph.clients.telzino import TelzinoClient, telzino_auth
from usagegraph.clients.transport import SourceTransport

__all__ = ["Answer", "dashboard", "every_kind", "load", "recording", "save"]

# L bodies take a while to render the first time
_TIMEOUTS = Timeouts(connect=5.0, read=300.0, total=600.0)


@dataclass(frozen=True)
class Answer:
    """One body as a client decoded it."""

    body: Body[Any, Any]
    reader: JsonReader
    content: bytes
    status: int
    context: tuple[Any, ...]

    @property
    def kind(self) -> str:
        """`<vendor> <endpoint>`, e.g. `telzino GET /v1/billing-report`."""
        return f"{self.reader.source.split('-', 1)[0]} {self.reader.endpoint}"

    def fast(self) -> Any:
        """Decoded as the clients do: the fast path, the reference path where it must."""
        return self.body.decode(self.reader, self.content, self.status, *self.context)

    def reference(self) -> Any:
        """Decoded by the reference path alone (what the clients did before the fast path)."""
        return self.body.decode_tolerantly(self.reader, self.content, self.status, *self.context)


_BODIES = {"telzino": telzino.BODIES, "teli": teli.BODIES, "talkdesk": talkdesk.BODIES}


def save(answers: list[Answer], path: Path) -> None:
    """Write `answers` for `load` (the decoders are found again by vendor and endpoint)."""
    kept = [(a.kind.split(" ", 1)[0], a.reader, a.content, a.status, a.context) for a in answers]
    path.write_bytes(pickle.dumps(kept))


def load(path: Path) -> list[Answer]:
    """The answers `save` wrote (a file of our own making: pickle is fine here)."""
    kept = pickle.loads(path.read_bytes())
    return [
        Answer(_BODIES[vendor][reader.endpoint], reader, content, status, context)
        for vendor, reader, content, status, context in kept
    ]


@contextmanager
def recording() -> Iterator[list[Answer]]:
    """Every body the clients decode while it is open, in order."""
    answers: list[Answer] = []
    decode = Body.decode

    def noting(
        self: Body[Any, Any], reader: JsonReader, content: bytes, status: int, *context: Any
    ) -> Any:
        answers.append(Answer(self, reader, content, status, context))
        return decode(self, reader, content, status, *context)

    Body.decode = noting  # type: ignore[method-assign]
    try:
        yield answers
    finally:
        Body.decode = decode  # type: ignore[method-assign]


async def every_kind(entries: list[dict[str, str]], first: date, last: date) -> list[Answer]:
    """Every kind of body the three clients read, each method called once over days first..last
    (one Teli tenant, one Talkdesk organization)."""
    telzino_entry = next(e for e in entries if e["kind"] == "telzino")
    teli_entry = next(e for e in entries if e["kind"] == "teli")
    talkdesk_entry = next(e for e in entries if e["kind"] == "talkdesk")
    async with build_http_client(_TIMEOUTS) as http:

        def transport(entry: dict[str, str], auth: Any) -> SourceTransport:
            policy = TransportPolicy(timeouts=_TIMEOUTS)
            return SourceTransport(source=entry["name"], http=http, auth=auth, policy=policy)

        telzino = TelzinoClient(
            transport(
                telzino_entry,
                telzino_auth(
                    token_url=telzino_entry["token_url"],
                    client_id=telzino_entry["client_id"],
                    client_secret=telzino_entry["client_secret"],
                ),
            ),
            reports_url=telzino_entry["reports_url"],
            billing_url=telzino_entry["billing_url"],
        )
        teli = TeliClient(
            transport(teli_entry, teli_auth(teli_entry["api_key"])),
            base_url=teli_entry["base_url"],
            usage_url=teli_entry["usage_url"],
        )
        talkdesk = TalkdeskClient(
            transport(
                talkdesk_entry,
                talkdesk_auth(
                    token_url=talkdesk_entry["token_url"],
                    client_id=talkdesk_entry["client_id"],
                    client_secret=talkdesk_entry["client_secret"],
                ),
            ),
            base_url=talkdesk_entry["base_url"],
        )
        with recording() as answers:
            await telzino.minutes_by_organization(first, last)
            await telzino.billing_report(first, last)
            agents = await telzino.agents()
            await telzino.agent(agents[0].id)
            await telzino.minutes_by_agent(first, last, [a.id for a in agents[:100]])
            organizations = await teli.organizations()
            organization = organizations[0].unique_id
            await teli.users(organization)
            await teli.agents(organization)
            await teli.organization_analytics(first, last)
            users = await teli.user_analytics(organization, first, last)
            await teli.usage(organization_id=organization, first=first, last=last)
            await teli.usage(user_id=users.rows[0].user_unique_id)
            await talkdesk.accounts()
            await talkdesk.monthly_usage()
    return answers


async def dashboard(entries: list[dict[str, str]], directory_toml: str) -> list[Answer]:
    """The bodies a cold run of the benchmark's dashboard decodes (last month, every reseller),
    the sandbox's directory mapping its customers."""
    # imported here: the app is only needed for this one
    from bench.scenarios import DASHBOARD, range_pool
    from usagegraph.app import create_app
    from usagegraph.settings import settings_from_sources

    with tempfile.TemporaryDirectory() as workdir:
        directory = Path(workdir) / "directory.toml"
        directory.write_text(directory_toml, encoding="utf-8")
        sources = [{**entry, "timeout_total": 600.0} for entry in entries]
        app = create_app(settings_from_sources(sources, directory={"path": directory}))
        first, last = range_pool(datetime.now(UTC).date())[0]
        query = {
            "query": DASHBOARD,
            "variables": {"range": {"firstDay": str(first), "lastDay": str(last)}},
        }
        with recording() as answers:  # discovery's listings too: a cold start reads them
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://bench", timeout=900
                ) as client:
                    answer = await client.post("/graphql", json=query)
    answer.raise_for_status()
    if "errors" in answer.json():
        raise RuntimeError(f"the dashboard failed: {answer.json()['errors']}")
    return answers
