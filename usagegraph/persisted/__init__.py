"""Persisted queries at the HTTP layer: Apollo's automatic persisted queries and a safelist.

- `middleware`: `PersistedQueries`, the ASGI layer resolving `extensions.persistedQuery` by
  `[persisted_queries] mode` (apq, safelist, off), and `persisted_origin()` for the metrics.
- `manifest`: the safelist's Apollo persisted query manifest, built (`usagegraph
  export-operations`), read and checked; `sha256_hex` and `normalize`, the hash and printed form
  the manifest and APQ share.
- `store`: where registered APQ queries live, bounded in bytes overall and per caller (in memory,
  or in Redis shared by replicas).
"""

from __future__ import annotations

from usagegraph.persisted.manifest import (
    MANIFEST_FORMAT,
    Manifest,
    ManifestError,
    build_manifest,
    normalize,
    sha256_hex,
)
from usagegraph.persisted.middleware import (
    Mode,
    Origin,
    PersistedQueries,
    install_persisted_queries,
    persisted_origin,
)
from usagegraph.persisted.store import QueryStore, build_query_store

__all__ = [
    "MANIFEST_FORMAT",
    "Manifest",
    "ManifestError",
    "Mode",
    "Origin",
    "PersistedQueries",
    "QueryStore",
    "build_manifest",
    "build_query_store",
    "install_persisted_queries",
    "normalize",
    "persisted_origin",
    "sha256_hex",
]
