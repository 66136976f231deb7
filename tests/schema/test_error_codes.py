"""Error codes come from error types, validation rules and graphql-core's error attributes.

schema/errors.py never reads an error's wording, with one exception kept in schema/compat.py:
the parser's token limit, which graphql-core raises as a plain syntax error. Each request below
is refused before any resolver runs, so the schema executes it without a context.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    GraphQLError,
    GraphQLSyntaxError,
    KnownArgumentNamesRule,
    ValuesOfCorrectTypeRule,
    parse,
    validate,
)
from graphql.validation import ASTValidationContext

from usagegraph.schema import build_schema
from usagegraph.schema.compat import graphql_schema, is_token_limit
from usagegraph.schema.errors import coded_rule
from usagegraph.schema.limits import SchemaLimits
from usagegraph.schema.validation import validation_rules

RANGE = 'organization(id: "x") { usage(range: %s) { voice { seconds } } }'
LIMITS = SchemaLimits(max_tokens=60, introspection=False)


def syntax_error(text: str, **options: Any) -> GraphQLSyntaxError:
    with pytest.raises(GraphQLSyntaxError) as raised:
        parse(text, **options)
    return raised.value


def test_the_parsers_token_limit_is_still_told_apart_by_its_wording() -> None:
    # fails when graphql-core rewords it: schema/compat.py's is_token_limit must follow
    refused = syntax_error("{ a b c d e f }", max_tokens=4)
    assert refused.description == "Document contains more than 4 tokens. Parsing aborted."
    assert is_token_limit(refused)
    assert not is_token_limit(syntax_error("{ a "))
    assert not is_token_limit(syntax_error("{ a }", max_source_length=3))


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ resellers { id ", None, "GRAPHQL_PARSE_FAILED"),
        ("{ " + " ".join(f"a{i}: __typename" for i in range(30)) + " }", None, "QUERY_TOO_COMPLEX"),
        ('{ __type(name: "Query") { name } }', None, "INTROSPECTION_DISABLED"),
        # the rules judging values the caller wrote
        ("{ organization { id } }", None, "BAD_USER_INPUT"),  # a required argument left out
        ("{ resellers @skip { id } }", None, "BAD_USER_INPUT"),  # a directive's, too
        ('{ organizations(ids: ["a", null]) { id } }', None, "BAD_USER_INPUT"),
        ("{ " + RANGE % '{firstDay: "2025-01-01"}' + " }", None, "BAD_USER_INPUT"),
        # variables graphql-core could not coerce
        ("query ($r: DateRange!) { " + RANGE % "$r" + " }", {}, "BAD_USER_INPUT"),
        (
            'query ($n: Int) { organization(id: "x") { agents(first: $n) { id } } }',
            {"n": "many"},
            "BAD_USER_INPUT",
        ),
        # the query's shape
        ("{ resellers(x: 1) { id } }", None, "GRAPHQL_VALIDATION_FAILED"),
        (
            "query ($n: String) { organization(id: $n) { id } }",
            {"n": "x"},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ("query ($n: String) { resellers { id } }", {}, "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_each_refusal_has_the_code_of_its_kind(
    query: str, variables: dict[str, Any] | None, code: str
) -> None:
    result = await build_schema(LIMITS).execute(query, variable_values=variables)
    assert result.errors
    assert [(e.extensions or {}).get("code") for e in result.errors] == [code] * len(result.errors)


def test_a_coded_rule_reports_its_errors_with_its_code_and_leaves_others_as_they_are() -> None:
    schema = graphql_schema(build_schema(LIMITS))
    document = parse("{ organization { id } nope }")
    errors = validate(schema, document, validation_rules(LIMITS))
    codes = {error.message: (error.extensions or {}).get("code") for error in errors}
    assert codes == {
        "Argument 'Query.organization(id:)' of type 'ID!' is required, but it was not provided.": (
            "BAD_USER_INPUT"
        ),
        "Cannot query field 'nope' on type 'Query'.": None,  # GRAPHQL_VALIDATION_FAILED later
    }


def test_a_rule_without_a_code_is_used_as_it_is() -> None:
    assert coded_rule(KnownArgumentNamesRule) is KnownArgumentNamesRule


def test_a_code_the_error_already_has_is_kept() -> None:
    reported: list[GraphQLError] = []
    rule = coded_rule(ValuesOfCorrectTypeRule)(
        ASTValidationContext(parse("{ a }"), reported.append)  # type: ignore[arg-type]
    )
    rule.report_error(GraphQLError("limit", extensions={"code": "QUERY_TOO_COMPLEX"}))
    rule.report_error(GraphQLError("value"))
    assert [e.extensions for e in reported] == [
        {"code": "QUERY_TOO_COMPLEX"},
        {"code": "BAD_USER_INPUT"},
    ]
