"""Finding 1: a 920-byte query stalled the whole server; item 1: query analysis and cost.

Strawberry's depth and alias limiters walked a fragment again at every spread, so
`fragment F0 on Query { ...F1 ...F1 } ... fragment F22 on Query { resellers { id } }` held
the event loop 26 s (doubling per level). The analysis now walks each fragment once, and the
cost of such a document (2^levels times its last fragment's) refuses it. graphql-core's own
field-merging rule is quadratic (300 copies of `resellers { id }`: 0.4 s), so a linear one
replaces it, and a document that is not small is checked off the event loop.

Timings are of whole requests through the app, and of the event loop itself: a ticker that
sleeps 2 ms records the longest it waited while the request ran.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLNonNull,
    GraphQLObjectType,
    OverlappingFieldsCanBeMergedRule,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
)

from bench.scenarios import DASHBOARD, DRILLDOWN, MIXED
from tests.fixtures.auth import client_for, started
from tests.fixtures.graph import sandbox_settings
from usagegraph.sandbox.server import SandboxServer
from usagegraph.schema import schema as default_schema
from usagegraph.schema import validation as schema_validation
from usagegraph.schema.analysis import SATURATION, analyse
from usagegraph.schema.limits import DEFAULT_MAX_COST
from usagegraph.schema.overlap import FieldMergingRule
from usagegraph.settings import ConfigError, LimitsSettings, settings_from_sources

HELD = 0.050  # the longest any request may hold the event loop (the target)
OPERATIONS = Path(__file__).parents[2] / "examples" / "operations"
JANUARY = '{firstDay: "2026-01-01", lastDay: "2026-01-31"}'
# one of the 30 aliases of finding 7's query: 24 months of usage
SERIES = (
    'm{}: monthly(firstMonth: "2024-01", lastMonth: "2025-12") {{ month usage {{ apiRequests }} }}'
)
SCHEMA = default_schema._schema


def family(levels: int, *, fan_out: int = 2, leaf: str = "resellers { id }") -> str:
    """The finding's document: each fragment spreads the next `fan_out` times."""
    parts = ["query X { ...F0 }"]
    for i in range(levels):
        parts.append(f"fragment F{i} on Query {{ {f' ...F{i + 1}' * fan_out} }}")
    parts.append(f"fragment F{levels} on Query {{ {leaf} }}")
    return " ".join(parts)


def inline_family(levels: int) -> str:
    """The same doubling through inline fragments (with and without a type condition)."""
    parts = ["query X { ...F0 }"]
    for i in range(levels):
        parts.append(
            f"fragment F{i} on Query {{ ... on Query {{ ...F{i + 1} }} ... {{ ...F{i + 1} }} }}"
        )
    parts.append(f"fragment F{levels} on Query {{ resellers {{ id }} }}")
    return " ".join(parts)


def nested_family(levels: int) -> str:
    """Fragments spread in many places: under nested fields, each spreading the next twice."""
    parts = ['query X { organization(id: "cust0000") { ...F0 } }']
    for i in range(levels):
        parts.append(
            f"fragment F{i} on Organization {{ ...F{i + 1} reseller {{ id }} ...F{i + 1} }}"
        )
    parts.append(f"fragment F{levels} on Organization {{ id name sources {{ source }} }}")
    return " ".join(parts)


@contextmanager
def renamed(document: str, name: str) -> Iterator[str]:
    """`document` with another operation name: a new text, so no cache can answer it."""
    yield document.replace("query X ", f"query {name} ", 1)


@asynccontextmanager
async def loop_watch() -> AsyncIterator[list[float]]:
    """The gaps between the ticks of a 2 ms ticker while the block runs."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    try:
        yield gaps
    finally:
        done.set()
        await ticker


@pytest.fixture
async def app_client(
    sandbox: SandboxServer, directory_file: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async with started(sandbox_settings(sandbox, directory_file)) as app, client_for(app) as client:
        # discovery once, so what follows measures the documents, not the vendors
        assert (await client.post("/graphql", json={"query": "{ resellers { id } }"})).is_success
        yield client


async def timed_post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> tuple[httpx.Response, float, float]:
    """The response, its wall time and the longest the event loop was held meanwhile: the best
    of three tries, each a new text (a comment added), so that no cache answers it and a pause
    of this shared machine's scheduler does not count as the server's."""
    tries = []
    for attempt in range(3):
        text = f"# try {attempt}\n{query}"
        async with loop_watch() as gaps:
            started_at = time.perf_counter()
            response = await client.post("/graphql", json={"query": text, "variables": variables})
            elapsed = time.perf_counter() - started_at
        tries.append((response, elapsed, max(gaps, default=0.0)))
    responses = {json.dumps(r.json(), sort_keys=True) for r, _, _ in tries}
    assert len(responses) == 1  # the same answer each time
    return tries[0][0], min(t[1] for t in tries), min(t[2] for t in tries)


def refused(response: httpx.Response) -> str:
    """The one QUERY_TOO_COMPLEX error's message of a refused operation."""
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX"}
    assert "Traceback" not in json.dumps(body)
    return str(error["message"])


# -- finding 1: the fragment family --------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "build"),
    [
        ("doubling", lambda n: family(n)),
        ("fan-out of five", lambda n: family(n, fan_out=5)),
        ("inline fragments", inline_family),
        ("aliases inside fragments", lambda n: family(n, leaf="a: resellers { b: id }")),
        ("spread under nested fields", nested_family),
    ],
)
async def test_the_fragment_family_is_refused_at_once_at_every_level_up_to_forty(
    app_client: httpx.AsyncClient,
    sandbox: SandboxServer,
    label: str,
    build: Callable[[int], str],
) -> None:
    for levels in (10, 23, 30, 40):
        sandbox.control.reset()
        # a new operation name each time, as the attacker did to defeat the caches
        with renamed(build(levels), f"X{levels}") as document:
            assert len(document.encode()) < 65536
            response, elapsed, held = await timed_post(app_client, document)
        if levels < 23 and "errors" not in response.json():
            assert response.json()["data"]  # small enough to answer (from the catalog)
        else:
            message = refused(response)
            assert "exceeds maximum operation" in message or "aliases found" in message
        assert elapsed < HELD, (label, levels, elapsed)
        assert held < HELD, (label, levels, held)
    assert sandbox.control.count() == 0


async def test_the_refusal_says_which_limit_and_the_value(app_client: httpx.AsyncClient) -> None:
    message = refused((await timed_post(app_client, family(22)))[0])
    # 2^22 copies of `resellers { id }`, each 1 + 20 resellers x 1 id
    assert message == (
        f"'X' exceeds maximum operation cost of {DEFAULT_MAX_COST} "
        f"(its estimated cost is {2**22 * 21})"
    )
    message = refused((await timed_post(app_client, family(40, leaf="a: __typename")))[0])
    assert message == f"more than {SATURATION} aliases found. Allowed: 30"


def cycle(length: int) -> str:
    chain = " ".join(f"fragment F{i} on Query{{...F{(i + 1) % length}}}" for i in range(length))
    return "{ resellers { id } ...F0 } " + chain


async def test_circular_fragments_are_refused_without_a_recursion_error(
    app_client: httpx.AsyncClient, sandbox: SandboxServer, directory_file: Path
) -> None:
    response, _, held = await timed_post(app_client, cycle(2))
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert error["message"] == "Cannot spread fragment 'F0' within itself via 'F1'."
    # 200 (about 1,600 tokens, under the default limit): graphql-core gives up on the cycle
    # ("Validation aborted.") before its recursion would fail
    response, _, held = await timed_post(app_client, cycle(200))
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert held < HELD
    # with a token limit raised for it, a cycle through 1,800 fragments (60 KB) is still
    # refused, not a recursion error (graphql-core gives up on it)
    settings = sandbox_settings(sandbox, directory_file, limits={"max_tokens": 20_000})
    async with started(settings) as app, client_for(app) as client:
        assert len(cycle(1800).encode()) < 65536
        response, _, held = await timed_post(client, cycle(1800))
        assert response.status_code == 200
        [error] = response.json()["errors"]
        assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
        assert held < HELD


# -- linear validation: documents graphql-core's rules found quadratic ------------------------


# valid documents within the default 2,000 tokens that took graphql-core 50 ms to 0.5 s
HEAVY_VALID = {
    "300 copies of a list field": "{" + " resellers { id }" * 300 + " }",
    "1,900 copies of a leaf": "{ resellers {" + " id" * 1900 + " } }",
    "1,990 __typename": "{" + " __typename" * 1990 + " }",
    "600 spreads of one fragment": "{ resellers {" + " ...R" * 600 + " } } "
    "fragment R on Reseller { id name }",
}


@pytest.mark.parametrize("label", HEAVY_VALID)
async def test_large_valid_documents_never_hold_the_event_loop(
    app_client: httpx.AsyncClient, label: str
) -> None:
    response, _, held = await timed_post(app_client, HEAVY_VALID[label])
    assert response.status_code == 200
    assert "errors" not in response.json(), response.json()
    assert held < HELD, (label, held)


async def test_healthz_answers_promptly_while_a_large_document_is_validated(
    app_client: httpx.AsyncClient,
) -> None:
    # about 90 ms of parsing and validation on this machine, were it on the event loop
    document = HEAVY_VALID["1,990 __typename"]
    slowest: list[float] = []
    for attempt in range(3):  # the best of three (a new text each time: nothing cached)
        text = f"# try {attempt}\n{document}"
        heavy = asyncio.create_task(app_client.post("/graphql", json={"query": text}))
        probes: list[float] = []
        while not heavy.done():
            await asyncio.sleep(0.002)  # an in-process request may never yield by itself
            started_at = time.perf_counter()
            assert (await app_client.get("/healthz")).json() == {"status": "ok"}
            probes.append(time.perf_counter() - started_at)
        response = await heavy
        assert response.status_code == 200 and "errors" not in response.json()
        assert probes
        slowest.append(max(probes))
    assert min(slowest) < HELD, slowest


async def test_conflicting_fields_are_still_refused(app_client: httpx.AsyncClient) -> None:
    # 220 fields of one response name (1,760 tokens): graphql-core compared 24,000 pairs
    document = "{" + ' organization(id: "x") { id }' * 110 + ' organization(id: "y") { id }' * 110
    response, _, held = await timed_post(app_client, document + " }")
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert error["message"] == (
        "Fields 'organization' conflict because they have differing arguments. Use different "
        "aliases on the fields to fetch both if this was intentional."
    )
    assert held < HELD


def random_document(rng: random.Random) -> str:
    """A random operation over the served schema: fields, aliases, arguments, inline
    fragments on interfaces and unions, named fragments."""
    fragments: list[str] = []
    arguments = {
        "id": ['"x"', '"y"'],
        "ids": ['["a"]', '["a", "b"]', "null"],
        "first": ["1", "2"],
        "firstMonth": ['"2026-01"'],
        "lastMonth": ['"2026-02"', '"2026-03"'],
        "range": [
            '{firstDay: "2026-01-01", lastDay: "2026-01-02"}',
            '{lastDay: "2026-01-02", firstDay: "2026-01-01"}',
            '{firstDay: "2026-01-01", lastDay: "2026-01-03"}',
        ],
        "rankedBy": ["null", '{firstDay: "2026-01-01", lastDay: "2026-01-02"}'],
        "partialMonths": ["EXCLUDE", "WHOLE_MONTHS"],
        "representations": ["[]"],
    }

    def selections(kind: Any, depth: int) -> str:
        out = []
        for _ in range(rng.randint(1, 4)):
            if not isinstance(kind, GraphQLObjectType) or rng.random() < 0.15:
                if isinstance(kind, GraphQLObjectType):
                    possible = [kind, *kind.interfaces]
                else:
                    possible = list(SCHEMA.get_possible_types(kind))
                condition = rng.choice(possible)
                body = selections(condition, depth + 1)
                if rng.random() < 0.4:
                    fragments.append(f"fragment F{len(fragments)} on {condition.name} {{ {body} }}")
                    out.append(f"...F{len(fragments) - 1}")
                else:
                    out.append(f"... on {condition.name} {{ {body} }}")
                continue
            name, field = rng.choice(list(kind.fields.items()))
            if name == "_service":
                continue
            alias = rng.choice(["a: ", "b: ", "id: ", "name: "]) if rng.random() < 0.12 else ""
            given = [
                f"{arg}: {values[0] if rng.random() < 0.85 else rng.choice(values)}"
                for arg, definition in field.args.items()
                if isinstance(definition.type, GraphQLNonNull) or rng.random() < 0.4
                for values in [arguments.get(arg, ['"z"'])]
            ]
            call = f"{alias}{name}({', '.join(given)})" if given else f"{alias}{name}"
            below = get_named_type(field.type)
            if is_leaf_type(below):
                out.append(call)
            elif depth >= 4:
                out.append(f"{alias}__typename")
            else:
                out.append(f"{call} {{ {selections(below, depth + 1)} }}")
        return " ".join(out) or "__typename"

    root = selections(SCHEMA.query_type, 0)
    return "{ " + root + " } " + " ".join(fragments)


def test_linear_field_merging_agrees_with_graphql_core() -> None:
    """Differential: graphql-core's rule and ours find conflicts in the same documents."""
    rng = random.Random(14)
    conflicting = 0
    for _ in range(400):
        text = random_document(rng)
        document = parse(text)
        theirs = validate(SCHEMA, document, [OverlappingFieldsCanBeMergedRule])
        ours = validate(SCHEMA, document, [FieldMergingRule])
        assert bool(theirs) == bool(ours), (text, theirs, ours)
        conflicting += bool(ours)
    assert 100 < conflicting < 300  # the sample exercises both verdicts


@pytest.mark.parametrize(
    "document",
    [
        "{ resellers { a: id a: name } }",
        '{ organization(id: "1") { ...A } organization(id: "1") { ...B } } '
        "fragment A on Organization { x: id } fragment B on Organization { x: name }",
        "{ _entities(representations: []) { ... on Organization { x: sources { y: nativeId } } "
        "... on Reseller { x: sources { y: source } } } }",
        "{ ...Q ...Q } fragment Q on Query { resellers { x: id } resellers { x: name } }",
        "query ($r: DateRange!, $s: DateRange!) { organizations { usage(range: $r) { apiRequests } "
        "usage(range: $s) { apiRequests } } }",
    ],
)
def test_field_merging_reports_each_conflict_once(document: str) -> None:
    errors = validate(SCHEMA, parse(document), [FieldMergingRule])
    assert len(errors) == 1
    assert errors[0].message.startswith("Fields '")
    assert len(errors[0].locations or []) == 2


# -- item 1: the cost model --------------------------------------------------------------------


def cost(document: str, variables: dict[str, Any] | None = None) -> int:
    [operation] = analyse(SCHEMA, parse(document), variables).operations
    return operation.cost


def test_cost_counts_values_and_multiplies_by_list_sizes() -> None:
    assert cost("{ __typename }") == 1
    assert cost("{ resellers { id name } }") == 1 + 20 * 2
    assert cost("{ organizations { id } }") == 1 + 2000
    assert cost('{ organizations(ids: ["a", "b", "c"]) { id } }') == 1 + 3
    assert cost("{ resellers { organizations { id } } }") == 1 + 20 * (1 + 100)
    # a field that reaches a vendor costs 10
    usage = f'{{ organization(id: "x") {{ usage(range: {JANUARY}) {{ voice {{ seconds }} }} }} }}'
    assert cost(usage) == 1 + 10 + 2
    # each month of a series is a usage; the months come from the arguments
    monthly = '{ organization(id: "x") { monthly(firstMonth: "2025-11", lastMonth: "2026-01") '
    assert cost(monthly + "{ month } } }") == 1 + 1 + 3 * (10 + 1)
    # first: keeps fewer agents; ranking reads every agent's usage (10 agents estimated)
    assert cost('{ organization(id: "x") { agents(first: 2) { id } } }') == 1 + 1 + 2
    ranked = f'{{ organization(id: "x") {{ agents(rankedBy: {JANUARY}, first: 2) {{ id }} }} }}'
    assert cost(ranked) == 1 + 1 + 10 * 10 + 2
    # introspection counts each field once, with no list estimate
    assert cost("{ __schema { types { name fields { name } } } }") == 5


def test_a_fragment_counts_at_every_spread_and_is_analysed_once() -> None:
    twice = "{ ...R ...R } fragment R on Query { resellers { id } }"
    assert cost(twice) == 2 * 21
    [operation] = analyse(SCHEMA, parse(family(200))).operations
    assert operation.cost == SATURATION  # 2^200 copies: the figure says "more than"
    assert operation.depth == 1


def test_sizes_from_variables_count_once_per_request_and_as_one_before() -> None:
    document = "query ($ids: [ID!]) { organizations(ids: $ids) { id } }"
    before = analyse(SCHEMA, parse(document))
    assert before.variable_sized
    assert before.operations[0].cost == 1 + 1  # a lower bound for any request
    assert cost(document, {"ids": ["a"] * 500}) == 1 + 500
    assert cost(document, {"ids": None}) == 1 + 2000  # null: every organization
    months = (
        'query ($a: String!, $b: String!) { reseller(id: "r") { '
        "monthly(firstMonth: $a, lastMonth: $b) { month } } }"
    )
    assert cost(months, {"a": "2025-01", "b": "2025-12"}) == 1 + 1 + 12 * 11
    assert cost(months, {}) == 1 + 1 + 24 * 11  # not given: the most a series may have


def test_example_operations_and_benchmark_queries_stay_well_under_the_default() -> None:
    documents = {p.name: p.read_text(encoding="utf-8") for p in OPERATIONS.glob("*.graphql")}
    documents |= {"bench Dashboard": DASHBOARD, "bench DrillDown": DRILLDOWN, "bench Mixed": MIXED}
    assert len(documents) == 9  # six examples, three bench queries
    variables = {"bench Mixed": {"ids": ["cust0000"] * 50}}
    for name, text in documents.items():
        for operation in analyse(SCHEMA, parse(text), variables.get(name, {})).operations:
            assert operation.cost <= DEFAULT_MAX_COST / 5, (name, operation)


async def test_a_document_over_the_cost_limit_is_refused_before_any_upstream_call(
    sandbox: SandboxServer, directory_file: Path
) -> None:
    settings = sandbox_settings(sandbox, directory_file, limits={"max_cost": 1000})
    async with started(settings) as app, client_for(app) as client:
        await client.post("/graphql", json={"query": "{ resellers { id } }"})
        sandbox.control.reset()
        document = (
            "query ($ids: [ID!]) { organizations(ids: $ids) { "
            f"usage(range: {JANUARY}) {{ apiRequests }} }} }}"
        )

        async def ask(ids: int) -> httpx.Response:
            variables = {"ids": ["cust0000"] * ids}
            return await client.post("/graphql", json={"query": document, "variables": variables})

        # 1 + 40 x (10 + 1): 441; 1 + 100 x 11: 1,101
        within = await ask(40)
        assert "errors" not in within.json()
        sandbox.control.reset()
        assert refused(await ask(100)) == (
            "'anonymous' exceeds maximum operation cost of 1000 (its estimated cost is 1101)"
        )
        # finding 7's query over one organization: 2 + 30 x 24 x (10 + 3) = 9,362
        series = " ".join(SERIES.format(i) for i in range(30))
        series = f'{{ organization(id: "cust0000") {{ {series} }} }}'
        assert "exceeds maximum operation cost" in refused(
            await client.post("/graphql", json={"query": series})
        )
        assert sandbox.control.count() == 0


async def test_the_default_refuses_thirty_series_of_24_months_over_every_organization(
    app_client: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    sandbox.control.reset()
    fields = " ".join(SERIES.format(i) for i in range(30))
    query = f"{{ organizations {{ {fields} }} }}"
    message = refused(await app_client.post("/graphql", json={"query": query}))
    assert message.startswith(f"'anonymous' exceeds maximum operation cost of {DEFAULT_MAX_COST}")
    assert sandbox.control.count() == 0


async def test_operations_of_one_document_are_checked_once_whichever_is_run(
    app_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[object] = []
    check = schema_validation.check_document

    def counting(graphql_schema: Any, document: Any, limits: Any) -> Any:
        checked.append(document)
        return check(graphql_schema, document, limits)

    monkeypatch.setattr(schema_validation, "check_document", counting)
    document = "query A { resellers { id } } query B { organizations { id } }"
    for name in ("A", "B", "A"):
        response = await app_client.post(
            "/graphql", json={"query": document, "operationName": name}
        )
        assert "errors" not in response.json()
    assert len(checked) == 1


def test_max_cost_is_a_limits_setting_with_one_line_errors() -> None:
    assert LimitsSettings().max_cost == DEFAULT_MAX_COST == 1_000_000
    sources = [{"name": "teli", "kind": "teli", "api_key": "k"}]
    assert settings_from_sources(sources, limits={"max_cost": 5000}).limits.max_cost == 5000
    for value, problem in (
        (0, "input should be greater than or equal to 1"),
        ("lots", "input should be a valid integer, unable to parse string as an integer"),
    ):
        with pytest.raises(ConfigError) as caught:
            settings_from_sources(sources, limits={"max_cost": value})
        assert str(caught.value) == f"config error: limits.max_cost: {problem}"
