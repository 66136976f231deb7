"""Organization.users from its Teli parts' outcomes (schema/entities.py `users_of`).

The loads are gathered with return_exceptions, so an outcome may be any BaseException: a
cancelled load used to be iterated as a list of users (TypeError), and an error that is no
upstream failure crashed building SourceFailure (it has no `.source`).
"""

from __future__ import annotations

import asyncio

import pytest

from usagegraph.clients.errors import UpstreamTimeoutError, UpstreamUnavailableError
from usagegraph.resolvers.catalog import Part, UserNode
from usagegraph.resolvers.errors import SourceFailure
from usagegraph.schema.entities import users_of


def _user(source: str, native_id: str) -> UserNode:
    part = Part(source, "teli", native_id, native_id)
    return UserNode(f"{source}:{native_id}", native_id, None, "org1", part)


def test_users_of_every_part_in_order() -> None:
    outcomes = [(_user("teli-a", "u1"), _user("teli-a", "u2")), (_user("teli-b", "u3"),)]
    assert [u._node.id for u in users_of(outcomes)] == ["teli-a:u1", "teli-a:u2", "teli-b:u3"]


def test_failed_sources_fail_the_field_together() -> None:
    outcomes = [
        UpstreamTimeoutError("slow", source="teli-a", endpoint="list_users"),
        (_user("teli-c", "u1"),),
        UpstreamUnavailableError("down", source="teli-b", endpoint="list_users"),
    ]
    with pytest.raises(SourceFailure) as raised:
        users_of(outcomes)
    assert raised.value.extensions["code"] == "UPSTREAM_TIMEOUT"
    assert raised.value.extensions["sources"] == ["teli-a", "teli-b"]


def test_a_cancelled_load_propagates_as_cancellation() -> None:
    with pytest.raises(asyncio.CancelledError):
        users_of([(_user("teli-a", "u1"),), asyncio.CancelledError()])


def test_an_error_that_is_no_upstream_failure_propagates_as_itself() -> None:
    with pytest.raises(KeyError, match="teli-z"):
        users_of([KeyError("teli-z")])
