"""clients/bodies.py: the reference parse's errors, hostile bodies, and the fast path's tools."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest

from usagegraph.clients.bodies import Body, Unusual, as_mapping, frozen_maker, parse_json
from usagegraph.clients.decoding import JsonReader
from usagegraph.clients.errors import UpstreamContractError
from usagegraph.clients.policy import TransportPolicy
from usagegraph.clients.retries import RetryPolicy
from usagegraph.clients.talkdesk_shapes import UsagePage
from usagegraph.clients.telzino import TelzinoAgentMinutesRow, TelzinoClient
from usagegraph.clients.transport import SourceTransport

ENDPOINT = "GET /v1/reports/minutes-by-organization"


def parse(content: bytes) -> Any:
    return parse_json(content, source="telzino", endpoint=ENDPOINT, status=200)


def refusal(content: bytes) -> UpstreamContractError:
    with pytest.raises(UpstreamContractError) as caught:
        parse(content)
    return caught.value


def test_a_body_that_is_not_json_says_where_it_broke_without_quoting_it() -> None:
    error = refusal(b'{"data": [ {"trunc')
    assert str(error).startswith(
        f"telzino: {ENDPOINT} returned a body that is not JSON (Unterminated string"
    )
    assert "trunc" not in str(error)
    assert (error.code, error.status) == ("UPSTREAM_CONTRACT", 200)


def test_nesting_past_the_recursion_limit_is_a_contract_error() -> None:
    error = refusal(b"[" * 100_000 + b"]" * 100_000)
    assert error.message == "returned a body nested too deeply to read"


def test_a_number_no_decimal_can_hold_is_a_contract_error() -> None:
    error = refusal(b'{"total_voice_minutes": 1e99999999999999999999}')
    assert error.message == "returned a body with a number no decimal can hold"


def test_what_only_json_loads_accepts_still_reads_as_before() -> None:
    # NaN and a byte-order mark: msgspec refuses both, so these take the reference path
    assert parse(b'\xef\xbb\xbf{"a": 1.50}') == {"a": Decimal("1.50")}
    value = parse(b'{"a": NaN}')["a"]
    assert value != value


# -- the fast path falls back to the reference path ----------------------------------------------


class Pair(msgspec.Struct):
    a: int


FAST_CALLS: list[Any] = []


def fast(r: JsonReader, shaped: Pair) -> int:
    FAST_CALLS.append(shaped)
    if shaped.a < 0:
        raise Unusual
    return shaped.a * 10


def tolerant(r: JsonReader, body: Any) -> int:
    value = body["a"]
    return value * 10 if isinstance(value, int) else -1


PAIR = Body(Pair, fast, tolerant)
READER = JsonReader("telzino", ENDPOINT)


@pytest.mark.parametrize(
    ("content", "expected", "fast_calls"),
    [
        (b'{"a": 4}', 40, 1),  # the fast path
        (b'{"a": -4}', -40, 1),  # the fast function says Unusual: the reference reads it
        (b'{"a": "4"}', -1, 0),  # not the shape: the reference reads it
        (b'{"a": NaN}', -1, 0),  # not msgspec's JSON
        (b'{"a": 1e99999999999999999999}', None, 0),  # neither: the reference's error
    ],
)
def test_a_body_the_fast_path_cannot_judge_is_read_by_the_reference_path(
    content: bytes, expected: int | None, fast_calls: int
) -> None:
    FAST_CALLS.clear()
    if expected is None:
        with pytest.raises(UpstreamContractError):
            PAIR.decode(READER, content, 200)
    else:
        assert PAIR.decode(READER, content, 200) == expected
    assert len(FAST_CALLS) == fast_calls


async def test_a_hostile_body_through_a_client_is_a_contract_error_not_a_crash() -> None:
    deep = b'{"data": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(200, content=deep)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        transport = SourceTransport(
            source="telzino", http=http, policy=TransportPolicy(retry=RetryPolicy(max_attempts=1))
        )
        client = TelzinoClient(
            transport, reports_url="https://api.test", billing_url="https://dash.test"
        )
        with pytest.raises(UpstreamContractError) as caught:
            await client.minutes_by_organization(date(2026, 4, 1), date(2026, 4, 30))
    assert caught.value.endpoint == ENDPOINT
    assert caught.value.message == "returned a body nested too deeply to read"


# -- as_mapping ------------------------------------------------------------------------------------


def test_as_mapping_gives_back_the_object_as_decoded() -> None:
    body = {
        "_embedded": {"usage": [{"account ID": "acc-1", "total_amount": Decimal("2.50")}]},
        "next": None,
        "count": 1,
    }
    content = msgspec.json.Encoder(decimal_format="number").encode(body)
    page = msgspec.json.Decoder(UsagePage, float_hook=Decimal).decode(content)
    # absent fields stay absent, a null stays null, the vendor's own keys come back
    assert as_mapping(page) == body
    assert as_mapping(page, omit=frozenset({"embedded"})) == {"next": None, "count": 1}


# -- frozen_maker --------------------------------------------------------------------------------


def test_a_made_model_is_the_constructed_one() -> None:
    make = frozen_maker(TelzinoAgentMinutesRow)
    values = {
        "agent_id": "a1",
        "agent_name": "Support",
        "reseller_name": "Northwind",
        "minutes": Decimal("370.40"),
        "seconds": 22224,
        "call_count": 12,
    }
    made = make(dict(values))
    built = TelzinoAgentMinutesRow(**values)
    assert made == built
    assert repr(made) == repr(built)
    assert dataclasses.asdict(made) == dataclasses.asdict(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.seconds = 1  # type: ignore[misc]


@dataclass(frozen=True)
class Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


@dataclass(frozen=True, slots=True)
class Slotted:
    value: int = field(default=0)


@pytest.mark.parametrize("cls", [Checked, Slotted, dict])
def test_only_plain_dataclasses_get_a_maker(cls: type) -> None:
    with pytest.raises(TypeError):
        frozen_maker(cls)
