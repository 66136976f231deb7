"""Upstream error mapping: status -> class, one-line text, vendor hints, Retry-After, no secrets."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from usagegraph.clients.errors import (
    UpstreamBadRequestError,
    UpstreamContractError,
    UpstreamError,
    UpstreamForbiddenError,
    UpstreamNotFoundError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnauthorizedError,
    UpstreamUnavailableError,
    error_from_response,
    parse_retry_after,
    vendor_message,
)

WHERE = {"source": "teli", "endpoint": "GET /v1/analytics/organizations"}


def response(status: int, body: object = None, *, headers: dict[str, str] | None = None):
    if isinstance(body, (bytes, str)):
        return httpx.Response(status, content=body, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("status", "cls", "code", "retryable"),
    [
        (400, UpstreamBadRequestError, "UPSTREAM_BAD_REQUEST", False),
        (401, UpstreamUnauthorizedError, "UPSTREAM_UNAUTHORIZED", False),
        (403, UpstreamForbiddenError, "UPSTREAM_FORBIDDEN", False),
        (404, UpstreamNotFoundError, "UPSTREAM_NOT_FOUND", False),
        (409, UpstreamBadRequestError, "UPSTREAM_BAD_REQUEST", False),
        (422, UpstreamBadRequestError, "UPSTREAM_BAD_REQUEST", False),
        (429, UpstreamRateLimitedError, "UPSTREAM_RATE_LIMITED", True),
        (500, UpstreamUnavailableError, "UPSTREAM_UNAVAILABLE", True),
        (503, UpstreamUnavailableError, "UPSTREAM_UNAVAILABLE", True),
        (504, UpstreamUnavailableError, "UPSTREAM_UNAVAILABLE", True),
        (302, UpstreamContractError, "UPSTREAM_CONTRACT", False),
    ],
)
def test_each_status_maps_to_its_error_class(status, cls, code, retryable) -> None:
    error = error_from_response(response(status, {}), **WHERE)
    assert type(error) is cls
    assert (error.code, error.retryable, error.status) == (code, retryable, status)
    assert (error.source, error.endpoint) == ("teli", "GET /v1/analytics/organizations")


def test_text_is_one_line_naming_source_endpoint_and_status() -> None:
    error = error_from_response(response(503, b"<html>\n<b>down</b>\n</html>"), **WHERE)
    assert str(error) == "teli: GET /v1/analytics/organizations answered 503 (Service Unavailable)"


def test_attempt_count_is_in_the_text_and_on_the_error() -> None:
    error = error_from_response(response(502, b""), attempts=4, **WHERE)
    assert error.attempts == 4
    assert str(error).endswith("answered 502 (Bad Gateway) after 4 attempts")


def test_subclasses_share_the_base_so_callers_can_catch_broadly() -> None:
    assert issubclass(UpstreamTimeoutError, UpstreamUnavailableError)
    assert issubclass(UpstreamNotFoundError, UpstreamBadRequestError)
    for cls in (UpstreamRateLimitedError, UpstreamForbiddenError, UpstreamContractError):
        assert issubclass(cls, UpstreamError)
    assert UpstreamTimeoutError.code == "UPSTREAM_TIMEOUT"
    assert UpstreamTimeoutError.retryable is True


def test_telzino_body_adds_its_message_not_the_reason_again() -> None:
    body = {"error": "Bad Request", "message": "start_date and end_date are required (YYYY-MM-DD)"}
    error = error_from_response(
        response(400, body), source="telzino", endpoint="GET /v1/billing-report"
    )
    assert str(error) == (
        "telzino: GET /v1/billing-report answered 400 (Bad Request): "
        "start_date and end_date are required (YYYY-MM-DD)"
    )


def test_teli_body_adds_its_error_string() -> None:
    body = {"success": False, "error": "organization_id or user_id is required"}
    error = error_from_response(response(400, body), **WHERE)
    assert str(error).endswith("answered 400 (Bad Request): organization_id or user_id is required")


def test_talkdesk_body_adds_message_and_field_details() -> None:
    body = {
        "code": "4000001",
        "message": "Bad Request",
        "fields": [{"name": "per_page", "description": "must be between 1 and 250"}],
    }
    error = error_from_response(
        response(400, body), source="talkdesk-eastgate", endpoint="GET /express/usage/month"
    )
    assert str(error) == (
        "talkdesk-eastgate: GET /express/usage/month answered 400 (Bad Request): "
        "per_page: must be between 1 and 250"
    )


def test_oauth_body_adds_error_and_description() -> None:
    body = {"error": "invalid_client", "error_description": "Client authentication failed."}
    error = error_from_response(
        response(401, body), source="talkdesk-eastgate", endpoint="POST /oauth/token"
    )
    assert str(error).endswith(
        "answered 401 (Unauthorized): invalid_client: Client authentication failed."
    )


def test_vendor_message_is_truncated_and_single_line() -> None:
    body = {"message": "line one\nline two " + "x" * 500}
    hint = vendor_message(response(400, body))
    assert hint is not None
    assert len(hint) == 200
    assert hint.startswith("line one line two xxx")
    assert hint.endswith("…")
    assert "\n" not in str(error_from_response(response(400, body), **WHERE))


def test_only_known_message_fields_are_used_never_the_raw_body() -> None:
    body = {"error": "Invalid API key", "debug": {"request_headers": {"X-API-Key": "k-123"}}}
    error = error_from_response(response(401, body), **WHERE)
    assert str(error).endswith("answered 401 (Unauthorized): Invalid API key")
    assert "k-123" not in str(error)
    assert "debug" not in str(error)


def test_non_json_and_non_object_bodies_add_nothing() -> None:
    assert vendor_message(response(500, b"Traceback: secret stuff")) is None
    assert vendor_message(response(500, ["a", "b"])) is None
    assert vendor_message(response(500, {"error": 12})) is None


def test_known_secrets_and_credential_shapes_are_redacted() -> None:
    body = {
        "message": "Invalid API key sk-live-123456, got Authorization: Bearer abc.def.ghi "
        "and token eyJhbGciOiJIUzI1NiJ9.eyJzdWIi.sig",
    }
    error = error_from_response(response(401, body), secrets=["sk-live-123456"], **WHERE)
    assert str(error) == (
        "teli: GET /v1/analytics/organizations answered 401 (Unauthorized): Invalid API key "
        "[redacted], got Authorization: [redacted] and token [redacted]"
    )
    assert "sk-live" not in repr(error)


def test_429_reads_retry_after_seconds() -> None:
    error = error_from_response(response(429, {}, headers={"Retry-After": "7"}), **WHERE)
    assert isinstance(error, UpstreamRateLimitedError)
    assert error.retry_after == 7.0
    assert str(error).endswith("answered 429 (Too Many Requests), retry after 7 s")
    assert error.extensions()["retryAfter"] == 7.0


def test_429_reads_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 120, usegmt=True)
    error = error_from_response(
        response(429, {}, headers={"Retry-After": header}), now=now, **WHERE
    )
    assert isinstance(error, UpstreamRateLimitedError)
    assert error.retry_after == 120.0


def test_429_without_retry_after_has_none() -> None:
    error = error_from_response(response(429, {}), **WHERE)
    assert isinstance(error, UpstreamRateLimitedError)
    assert error.retry_after is None
    assert "retryAfter" not in error.extensions()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("2.5", 2.5),
        (" 30 ", 30.0),
        ("-5", 0.0),
        ("Tue, 14 Nov 2023 22:13:20 GMT", 0.0),  # exactly `now` below
        ("Tue, 14 Nov 2023 22:12:20 GMT", 0.0),  # in the past
        ("Tue, 14 Nov 2023 22:14:20 GMT", 60.0),
        ("soon", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value, expected) -> None:
    assert parse_retry_after(value, now=1_700_000_000.0) == expected


def test_contract_error_carries_the_field_path() -> None:
    error = UpstreamContractError(
        "sent voice_minutes as a string, expected a number",
        source="telzino",
        endpoint="GET /v1/reports/minutes-by-organization",
        field="data[3].agents[0].voice_minutes",
    )
    assert error.field == "data[3].agents[0].voice_minutes"
    assert error.extensions() == {
        "code": "UPSTREAM_CONTRACT",
        "source": "telzino",
        "endpoint": "GET /v1/reports/minutes-by-organization",
        "retryable": False,
        "field": "data[3].agents[0].voice_minutes",
    }
    assert str(error) == (
        "telzino: GET /v1/reports/minutes-by-organization "
        "sent voice_minutes as a string, expected a number"
    )


def test_repr_names_the_parts() -> None:
    error = UpstreamForbiddenError("answered 403 (Forbidden)", status=403, **WHERE)
    assert repr(error) == (
        "UpstreamForbiddenError(source='teli', endpoint='GET /v1/analytics/organizations', "
        "status=403, attempts=1, message='answered 403 (Forbidden)')"
    )
