"""A second subgraph for the federation tests: a tiny CRM that owns `Organization.accountManager`.

It is what a customer's own service looks like next to usagegraph in a supergraph: it extends
usagegraph's `Organization` entity (same `@key(fields: "id")`) with one field of its own, and
has a root field returning organizations by manager, so a gateway must ask usagegraph's
`_entities` for their names and usage. Served by `CrmServer` (uvicorn in a thread).
"""

from __future__ import annotations

import threading
from types import TracebackType

import strawberry
import uvicorn
from strawberry.asgi import GraphQL

from usagegraph.sandbox.server import free_port

__all__ = ["MANAGERS", "CrmServer", "crm_schema"]

# organization id (usagegraph's directory ids) -> account manager
MANAGERS = {"cust0000": "Dana Whitfield", "cust0005": "Dana Whitfield", "cust0007": "Ravi Patel"}


@strawberry.federation.type(keys=["id"], description="An organization, as the CRM knows it.")
class Organization:
    id: strawberry.ID = strawberry.federation.field(description="usagegraph's organization id.")
    account_manager: str | None = strawberry.field(
        description="Who looks after the account; null when nobody does."
    )

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Organization:
        return cls(id=id, account_manager=MANAGERS.get(str(id)))


@strawberry.type(description="The CRM's root.")
class Query:
    @strawberry.field(description="The organizations a manager looks after, by id.")
    def accounts_managed_by(self, manager: str) -> list[Organization]:
        return [
            Organization(id=strawberry.ID(org), account_manager=name)
            for org, name in sorted(MANAGERS.items())
            if name == manager
        ]


crm_schema = strawberry.federation.Schema(query=Query, federation_version="2.5")


class CrmServer:
    """The CRM subgraph over HTTP on loopback, at `<url>` (POST GraphQL)."""

    def __init__(self) -> None:
        self.port = free_port("127.0.0.1")
        config = uvicorn.Config(
            GraphQL(crm_schema), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="crm", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def __enter__(self) -> CrmServer:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the CRM subgraph did not start")
            threading.Event().wait(0.02)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
