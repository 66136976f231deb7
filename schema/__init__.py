"""The GraphQL schema: Reseller → Organization → Agent / User, each with usage over a range.

Builds and exports `schema`; `usagegraph export-schema` prints its SDL into `schema.graphql`.
"""

from __future__ import annotations

import strawberry

from schema.errors import ErrorCodes
from schema.query import Query

__all__ = ["Query", "schema"]

schema = strawberry.Schema(query=Query, extensions=[ErrorCodes])
