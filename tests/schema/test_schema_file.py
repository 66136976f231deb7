"""The committed schema.graphql is what the code builds (clients are generated from it)."""

from __future__ import annotations

from pathlib import Path

from usagegraph.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_schema_file_matches_the_code() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""

    assert committed == schema.as_str() + "\n", (
        "schema.graphql is out of date with the code: run `make schema` and commit the result"
    )
