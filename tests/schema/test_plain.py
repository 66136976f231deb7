"""Plain fields completed in one step (schema/plain.py) answer exactly what graphql-core does.

Each test runs the same operation on two builds of one small schema: Strawberry's own executor
and ours (with schema/direct.py's plain readers), and compares whole responses, errors included.
"""

from __future__ import annotations

import enum
import json
from decimal import Decimal
from typing import Any

import pytest
import strawberry
from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension

from schema import schema as usage_schema
from schema.direct import call_plain_resolvers_directly, is_plain
from schema.plain import PlainExecutor


@strawberry.enum
class Unit(enum.Enum):
    SECONDS = "seconds"
    SEGMENTS = "segments"


@strawberry.type
class Amount:
    value: Decimal
    unit: Unit

    @strawberry.field
    def doubled(self) -> Decimal:
        return self.value * 2


@strawberry.type
class Figures:
    label: str
    note: str | None
    amounts: list[Amount]
    missing: str | None = None

    @strawberry.field
    def first(self) -> Amount | None:
        return self.amounts[0] if self.amounts else None

    @strawberry.field
    def broken(self) -> str:
        raise ValueError("the source failed")

    @strawberry.field
    def empty(self) -> str:
        return None  # type: ignore[return-value]  # breaks its non-null promise

    @strawberry.field
    async def later(self) -> str:
        return self.label.upper()

    @strawberry.field
    def scaled(self, factor: int) -> Decimal:
        return sum((a.value for a in self.amounts), Decimal(0)) * factor


@strawberry.type
class Query:
    @strawberry.field
    def figures(self) -> list[Figures]:
        return [
            Figures(
                label="a",
                note=None,
                amounts=[
                    Amount(value=Decimal("1.50"), unit=Unit.SECONDS),
                    Amount(value=Decimal("2"), unit=Unit.SEGMENTS),
                ],
            ),
            Figures(label="b", note="n", amounts=[]),
        ]


def plain_schema(*extensions: type[SchemaExtension]) -> strawberry.Schema:
    built = strawberry.Schema(Query, execution_context_class=PlainExecutor, extensions=extensions)
    call_plain_resolvers_directly(built._schema, built.config)
    return built


@pytest.fixture
def infos(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`Type.field` of every field graphql-core built a resolve info for (its per-field path)."""
    seen: list[str] = []
    original = PlainExecutor.build_resolve_info

    def counting(self: PlainExecutor, field_def: Any, nodes: Any, parent: Any, path: Any) -> Any:
        seen.append(f"{parent.name}.{nodes[0].name.value}")
        return original(self, field_def, nodes, parent, path)

    monkeypatch.setattr(PlainExecutor, "build_resolve_info", counting)
    return seen


async def both(query: str, *extensions: type[SchemaExtension]) -> tuple[str, str]:
    """The JSON responses (key order included) of Strawberry's executor and ours."""
    answers = []
    for built in (strawberry.Schema(Query, extensions=extensions), plain_schema(*extensions)):
        result = await built.execute(query)
        errors = [{"message": e.message, "path": e.path} for e in result.errors or []]
        answers.append(json.dumps({"data": result.data, "errors": errors}))
    return answers[0], answers[1]


async def test_plain_subtrees_answer_the_same_without_per_field_resolution(
    infos: list[str],
) -> None:
    query = """{ figures { label note missing
        amounts { value unit doubled } one: first { unit value } ...F } }
        fragment F on Figures { again: label first { doubled } }"""
    theirs, ours = await both(query)
    assert ours == theirs
    assert json.loads(ours)["data"]["figures"][0]["amounts"] == [
        {"value": "1.50", "unit": "SECONDS", "doubled": "3.00"},
        {"value": "2", "unit": "SEGMENTS", "doubled": "4"},
    ]
    # the root's list too is a plain reader: no field went through graphql-core's own path
    assert infos == []


async def test_mixed_objects_keep_the_asked_order_and_their_other_fields_work(
    infos: list[str],
) -> None:
    query = "{ figures { z: label later scaled(factor: 3) a: note typename: __typename } }"
    theirs, ours = await both(query)
    assert ours == theirs
    assert list(json.loads(ours)["data"]["figures"][0]) == ["z", "later", "scaled", "a", "typename"]
    plain_fields = {"Figures.label", "Figures.note"}
    assert not plain_fields & set(infos)
    assert infos.count("Figures.later") == 2  # async: graphql-core's path


@pytest.mark.parametrize(
    "query",
    [
        "{ figures { label broken } }",  # a plain reader raises
        "{ figures { label empty } }",  # null where the schema says non-null
        "{ figures { amounts { unit } first { value } label broken } }",
    ],
)
async def test_failures_are_reported_exactly_as_graphql_core_reports_them(query: str) -> None:
    theirs, ours = await both(query)
    assert ours == theirs
    assert json.loads(ours)["errors"]


class Traced(SchemaExtension):
    """Middleware on every resolver, as a tracing extension installs."""

    def resolve(self, _next: Any, root: Any, info: GraphQLResolveInfo, **kwargs: Any) -> Any:
        return _next(root, info, **kwargs)


async def test_with_resolver_middleware_every_field_takes_graphql_cores_path(
    infos: list[str],
) -> None:
    theirs, ours = await both("{ figures { label amounts { value } } }", Traced)
    assert ours == theirs
    assert infos.count("Figures.label") == 2
    assert infos.count("Amount.value") == 2


def test_the_usage_figures_of_the_graph_are_plain_readers() -> None:
    types = usage_schema._schema.type_map
    for type_name, field_name in [
        ("Usage", "voice"),
        ("Usage", "sms"),
        ("Usage", "costs"),
        ("VoiceUsage", "seconds"),
        ("VoiceUsage", "minutes"),
        ("MessagingUsage", "outboundSegments"),
        ("Money", "amount"),
        ("Money", "currency"),
        ("Organization", "id"),
    ]:
        graph_type: Any = types[type_name]
        assert is_plain(graph_type.fields[field_name].resolve), f"{type_name}.{field_name}"
    assert usage_schema.execution_context_class is PlainExecutor
