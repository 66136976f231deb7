"""A configured connection as the graph sees it: a name, a vendor kind, its client and transport."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from usagegraph.clients.talkdesk import TalkdeskClient
    from usagegraph.clients.teli import TeliClient
    from usagegraph.clients.telzino import TelzinoClient
    from usagegraph.clients.transport import SourceTransport

__all__ = ["Connection", "Kind"]

Kind = Literal["telzino", "teli", "talkdesk"]


@dataclass(frozen=True)
class Connection:
    name: str
    kind: Kind
    client: TelzinoClient | TeliClient | TalkdeskClient
    transport: SourceTransport  # the one pooled, retrying HTTP channel the client uses

    @property
    def telzino(self) -> TelzinoClient:
        assert self.kind == "telzino"
        return self.client  # type: ignore[return-value]

    @property
    def teli(self) -> TeliClient:
        assert self.kind == "teli"
        return self.client  # type: ignore[return-value]

    @property
    def talkdesk(self) -> TalkdeskClient:
        assert self.kind == "talkdesk"
        return self.client  # type: ignore[return-value]
