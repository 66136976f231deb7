"""usagegraph/printing.py prints operations exactly as graphql-js 16's `print()` (the text that
JavaScript clients hash for persisted queries). The expected strings below are graphql-js
16.11's output; `make test-clients` also compares it with graphql-js over the example
operations."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import parse

from usagegraph.printing import print_document

ROOT = Path(__file__).resolve().parents[2]

# every construct of an executable document, printed by graphql-js 16.11.0
SOURCE = (
    'query X($a: [Int!] = [1, 2] @d(x: "q\\"\\u0001é")) @op { a: f(o: {x: 1, y: [null, true, '
    'ENUM, 1.5]}, s: "a\\nb") @skip(if: $b) { ... on T @x { y } ...F @z } }\n'
    "fragment F on T @fd { g }\n{ short }\nmutation { m }\n"
    'query Long { f(argumentNumberOne: "aaaaaaaaaaaaaaaaaaaa", argumentNumberTwo: '
    '"bbbbbbbbbbbbbbbbbbbbbbbbb") { x } }'
)
GRAPHQL_JS = (
    'query X($a: [Int!] = [1, 2] @d(x: "q\\"\\u0001é")) @op {\n'
    '  a: f(o: {x: 1, y: [null, true, ENUM, 1.5]}, s: "a\\nb") @skip(if: $b) {\n'
    "    ... on T @x {\n      y\n    }\n    ...F @z\n  }\n}\n\n"
    "fragment F on T @fd {\n  g\n}\n\n{\n  short\n}\n\nmutation {\n  m\n}\n\n"
    "query Long {\n  f(\n"
    '    argumentNumberOne: "aaaaaaaaaaaaaaaaaaaa"\n'
    '    argumentNumberTwo: "bbbbbbbbbbbbbbbbbbbbbbbbb"\n'
    "  ) {\n    x\n  }\n}"
)


def test_prints_every_construct_like_graphql_js() -> None:
    assert print_document(parse(SOURCE)) == GRAPHQL_JS


def test_object_values_have_no_inner_spaces_unlike_graphql_core() -> None:
    printed = print_document(parse("{ f(range: { firstDay: $a, lastDay: $b }) { x } }"))

    assert printed == "{\n  f(range: {firstDay: $a, lastDay: $b}) {\n    x\n  }\n}"


@pytest.mark.parametrize(
    "path", sorted((ROOT / "examples" / "operations").glob("*.graphql")), ids=lambda p: p.stem
)
def test_printing_keeps_the_operation(path: Path) -> None:
    document = parse(path.read_text(encoding="utf-8"), no_location=True)
    printed = print_document(document)

    assert parse(printed, no_location=True) == document
    assert print_document(parse(printed)) == printed  # stable
    assert "#" not in printed  # comments are not part of the operation
