"""The example operations (examples/operations, the README's dashboard queries) are valid against
the committed schema.graphql that clients generate their code from: an operation that no longer
validates fails here, before any client build does."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLSchema, OperationDefinitionNode, build_schema, parse, validate

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = sorted((ROOT / "examples" / "operations").glob("*.graphql"))


@pytest.fixture(scope="module")
def client_schema() -> GraphQLSchema:
    return build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))


def test_there_are_example_operations() -> None:
    assert [p.stem for p in OPERATIONS] == [
        "CostByCurrency",
        "LifetimeUsage",
        "PartialMonthCoverage",
        "ResellerOverview",
        "TopAgents",
        "TopOrganizationsByCost",
    ]


@pytest.mark.parametrize("path", OPERATIONS, ids=lambda p: p.stem)
def test_operation_validates_against_schema_graphql(
    path: Path, client_schema: GraphQLSchema
) -> None:
    document = parse(path.read_text(encoding="utf-8"))

    errors = validate(client_schema, document)

    assert not errors, f"{path.name}: " + "; ".join(e.message for e in errors)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    # one operation per file, named like the file (codegen and the manifest name them so)
    assert [o.name.value for o in operations if o.name] == [path.stem]


def test_a_broken_operation_would_be_caught(client_schema: GraphQLSchema) -> None:
    text = (ROOT / "examples" / "operations" / "TopAgents.graphql").read_text(encoding="utf-8")
    broken = parse(text.replace("voice { minutes seconds }", "voice { minutes hours }"))

    errors = validate(client_schema, broken)

    assert [e.message for e in errors] == ["Cannot query field 'hours' on type 'VoiceUsage'."]
