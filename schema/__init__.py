"""The GraphQL schema (a placeholder root until the usage graph lands).

Builds and exports `schema`; `usagegraph export-schema` prints its SDL into `schema.graphql`.
"""

from __future__ import annotations

from enum import Enum

import strawberry

__all__ = ["Query", "SourceInfo", "SourceKind", "schema"]


@strawberry.enum(description="The vendor API a source connects to.")
class SourceKind(Enum):
    TELZINO = strawberry.enum_value("telzino", description="Telzino (voice AI agents).")
    TELI = strawberry.enum_value("teli", description="Teli partner API (SMS, MMS and voice).")
    TALKDESK = strawberry.enum_value("talkdesk", description="Talkdesk Billing Insights.")


@strawberry.type(description="One configured vendor connection (a `[[sources]]` entry).")
class SourceInfo:
    name: str = strawberry.field(description="The source's name from the configuration.")
    kind: SourceKind = strawberry.field(description="Which vendor API the source talks to.")


@strawberry.type(description="The root of every read.")
class Query:
    @strawberry.field(description="The configured sources, in configuration order.")
    def sources(self, info: strawberry.Info) -> list[SourceInfo]:
        settings = info.context["settings"]
        return [SourceInfo(name=s.name, kind=SourceKind(s.kind)) for s in settings.sources]


schema = strawberry.Schema(query=Query)
