"""Library internals usagegraph relies on, kept in one place.

Strawberry (strawberry-graphql >=0.341,<0.400) validates a document with graphql-core's rules
plus two of its own (`validate_document` in strawberry/schema/schema.py). schema/validation.py
validates documents itself (linear field merging, suggestions hidden when introspection is
off) and adds the same two, from Strawberry's internal modules: a Strawberry upgrade that moves
them fails here, at import, not silently.
"""

from __future__ import annotations

from graphql import ASTValidationRule
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

__all__ = ["STRAWBERRY_RULES"]

STRAWBERRY_RULES: tuple[type[ASTValidationRule], ...] = (
    MaybeNullValidationRule,
    OneOfInputValidationRule,
)
