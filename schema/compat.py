"""Library internals usagegraph relies on, kept in one place.

Every name below reaches past the public API of Strawberry or graphql-core, both bounded in
pyproject.toml to the minor CI runs (requirements.lock pins it): an upgrade that moves one
fails here, at import, not silently. A bypass that only buys speed stays while it earns at
least 10 % of a scenario's server CPU, measured with `python -m bench.cpu --without NAME`
(each bypass's gain: see docs/measurements.md#library-bypasses):

- plain (schema/plain.py) skips graphql-core's completion;
- direct (schema/direct.py) skips Strawberry's resolver wrappers;
- ahead (schema/ahead.py) skips per-organization resolution.

The others are not about speed: the GraphQL schema Strawberry builds (no public accessor),
the field nodes behind a Strawberry `Info`, the two validation rules Strawberry adds, the field
collection the argument check walks exactly as execution will (schema/arguments.py), the
selection and scalar types Strawberry exposes without exporting them, and the operation errors
the router tells apart to answer by the GraphQL-over-HTTP spec (usagegraph/protocol.py, which
also overrides `BoundedGraphQLRouter.run`/`execute_single`, methods Strawberry's views do not
document as extension points; tests/usagegraph/test_http_spec.py pins their behaviour), and the
one error graphql-core tells apart by its text alone: the parser's token limit
(`is_token_limit`, pinned by tests/schema/test_error_codes.py).

httpx and httpcore are reached through public APIs only (clients/network.py).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLSyntaxError,
)

# plain: the executor Strawberry runs (its base class) and the field groups it completes
from graphql.execution.collect_fields import (
    FieldDetailsList,
    FragmentDetails,
    GroupedFieldSet,
    collect_fields,
    collect_subfields,
)
from strawberry.federation.schema import FederationAny

# protocol: the errors of an operation that cannot be chosen or run (a request error by the spec)
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# validation: Strawberry validates with graphql-core's rules plus these two (`validate_document`
# in strawberry/schema/schema.py); schema/validation.py validates documents itself (linear field
# merging, suggestions hidden when introspection is off) and must add the same two
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

# ahead: a `usage` field's arguments and selections read as Strawberry's resolver would
from strawberry.types.arguments import StrawberryArgument, convert_arguments
from strawberry.types.execution import PreExecutionError

# direct: which resolvers are plain methods (their parameters, the function they wrap)
from strawberry.types.field import StrawberryField
from strawberry.types.nodes import (
    FragmentSpread,
    InlineFragment,
    SelectedField,
    Selection,
    convert_selections,
)
from strawberry.types.scalar import ScalarDefinition

__all__ = [
    "STRAWBERRY_RULES",
    "CannotGetOperationTypeError",
    "FederationAny",
    "FieldDetailsList",
    "FragmentDetails",
    "FragmentSpread",
    "GroupedFieldSet",
    "InlineFragment",
    "InvalidOperationTypeError",
    "MaybeNullValidationRule",
    "PreExecutionError",
    "ScalarDefinition",
    "SelectedField",
    "Selection",
    "StrawberryArgument",
    "StrawberryField",
    "StrawberryGraphQLCoreExecutionContext",
    "collect_fields",
    "collect_subfields",
    "convert_arguments",
    "convert_selections",
    "field_nodes",
    "graphql_schema",
    "is_token_limit",
]

STRAWBERRY_RULES: tuple[type[ASTValidationRule], ...] = (
    MaybeNullValidationRule,
    OneOfInputValidationRule,
)


def graphql_schema(schema: Any) -> GraphQLSchema:
    """The graphql-core schema a Strawberry schema built (Strawberry keeps it private)."""
    built: GraphQLSchema = schema._schema
    return built


def field_nodes(info: Any) -> list[FieldNode]:
    """The AST nodes of the field a Strawberry `Info` describes (the key of per-request caches
    of what a selection needs, schema/selection.py)."""
    raw: GraphQLResolveInfo[Any] = info._raw_info
    return raw.field_nodes


# graphql-core raises the parser's token limit (`max_tokens`, which Strawberry's
# MaxTokensLimiter sets) as a plain GraphQLSyntaxError: no subclass, code or attribute says it
# is a limit, only the wording of `description` (graphql/language/parser.py)
_TOKEN_LIMIT = "Document contains more than "


def is_token_limit(error: GraphQLSyntaxError) -> bool:
    """Whether the parser refused the document for its number of tokens (a query limit), not
    for its syntax."""
    return error.description.startswith(_TOKEN_LIMIT)
