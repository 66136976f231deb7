"""Plain fields completed in one step (schema/plain.py) answer exactly what graphql-core does.

Each test runs the same operation on two builds of one small schema: Strawberry's own executor
and ours (with schema/direct.py's plain readers), and compares whole responses, errors included.
"""

from __future__ import annotations

import enum
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
import strawberry
from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from tests.fixtures.graph import tuned_sandbox_settings
from tests.fixtures.truth import last_full_month
from usagegraph.app import create_app
from usagegraph.schema import schema as usage_schema
from usagegraph.schema.direct import call_plain_resolvers_directly, is_plain
from usagegraph.schema.plain import PlainExecutor


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


@strawberry.type
class Odd:
    value: int

    @classmethod
    def is_type_of(cls, obj: Any, _info: GraphQLResolveInfo) -> bool:
        return isinstance(obj, Odd) and obj.value % 2 == 1


@strawberry.type
class Checks:
    @strawberry.field
    def odds(self) -> list[Odd]:
        return [Odd(value=1), Odd(value=2)]


def test_a_type_with_a_check_of_its_own_is_never_completed_here() -> None:
    built = strawberry.Schema(Checks, execution_context_class=PlainExecutor)
    result = built.execute_sync("{ odds { value } }")
    assert result.data is None or result.data["odds"] is None
    assert result.errors and "Expected value of type 'Odd'" in result.errors[0].message


# -- the graph itself over the sandbox ------------------------------------------------------------

DASHBOARD = """query ($range: DateRange!) { resellers { id name organizations { id name
  usage(range: $range) { firstDay days voice { minutes seconds } sms { outboundSegments }
    costs { amount currency } coverage { complete sources { source status } } } } } }"""


def graph_schema_of(app: Any) -> Any:
    return next(
        r.original_router.schema for r in app.router.routes if hasattr(r, "original_router")
    )


async def core_and_plain(app: Any, run: Any, variables: dict[str, Any], monkeypatch: Any) -> Any:
    """The dashboard through our executor, then through Strawberry's own."""
    ours = await run(DASHBOARD, variables)
    built = graph_schema_of(app)
    monkeypatch.setattr(built, "execution_context_class", StrawberryGraphQLCoreExecutionContext)
    theirs = await run(DASHBOARD, variables)
    return ours, theirs


async def test_the_graphs_dashboard_answers_what_graphql_cores_path_answers(
    graph_app: Any, graph: Any, dataset: Any, infos: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, last = last_full_month(dataset)
    variables = {"range": {"firstDay": str(first), "lastDay": str(last)}}
    await graph(DASHBOARD, variables)  # warm: the second answer comes from kept entries
    infos.clear()
    ours, theirs = await core_and_plain(graph_app, graph, variables, monkeypatch)
    assert "errors" not in ours
    assert json.dumps(ours) == json.dumps(theirs)  # key order included
    organizations = [o for r in ours["data"]["resellers"] for o in r["organizations"]]
    listed = await graph("{ organizations { id } }")
    assert len(organizations) == len(listed["data"]["organizations"]) > 0
    assert all(o["usage"]["voice"]["seconds"] is not None for o in organizations)
    # every organization's usage was answered ahead and read plainly (no resolve info)
    assert "Organization.usage" not in infos
    assert "Organization.id" not in infos


async def test_a_failed_source_is_reported_the_same_on_both_paths(
    sandbox: Any, directory_file: Any, dataset: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tuned_sandbox_settings(
        sandbox, directory_file, {"max_attempts": 1, "timeout_total": 5.0}, cache={"enabled": False}
    )
    first, last = last_full_month(dataset)
    variables = {"range": {"firstDay": str(first), "lastDay": str(last)}}
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://usagegraph") as client:

            async def run(query: str, given: dict[str, Any]) -> Any:
                response = await client.post("/graphql", json={"query": query, "variables": given})
                return response.json()

            await run("{ organizations { id } }", {})  # discovery before the fault
            sandbox.control.inject(vendor="talkdesk", status=503)
            ours, theirs = await core_and_plain(app, run, variables, monkeypatch)
    assert ours == theirs
    assert {e["extensions"]["code"] for e in ours["errors"]} == {"UPSTREAM_UNAVAILABLE"}
    costs = [o["usage"] for r in ours["data"]["resellers"] for o in r["organizations"]]
    assert any(u is None or u["costs"] is None for u in costs)
