"""The parsed-document cache (schema/documents.py): bounded, keyed by text and parser limits."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxTokensLimiter

from usagegraph.schema.documents import document_cache


@strawberry.type
class Query:
    @strawberry.field
    def echo(self, text: str) -> str:
        return text


async def test_the_least_recently_used_document_is_parsed_again(parsed: list[str]) -> None:
    schema = strawberry.Schema(Query, extensions=[document_cache(2)])
    texts = {word: f'{{ echo(text: "{word}") }}' for word in "abc"}
    a, b, c = texts.values()
    for word in "abacab":
        result = await schema.execute(texts[word])
        assert result.errors is None and result.data == {"echo": word}
    # a, b parsed; a kept (used); c evicts b; a kept; b parsed again
    assert parsed == [a, b, c, b]


async def test_a_document_parsed_under_one_token_limit_is_not_used_under_another(
    parsed: list[str],
) -> None:
    cache = document_cache(8)
    text = '{ echo(text: "limits") }'
    roomy = strawberry.Schema(Query, extensions=[cache, lambda: MaxTokensLimiter(100)])
    tight = strawberry.Schema(Query, extensions=[cache, lambda: MaxTokensLimiter(3)])

    assert (await roomy.execute(text)).data == {"echo": "limits"}
    refused = await tight.execute(text)

    assert refused.data is None and refused.errors is not None
    assert "more than 3 tokens" in refused.errors[0].message
    assert parsed == [text, text]


async def test_the_cache_keeps_texts_up_to_a_total_length(parsed: list[str]) -> None:
    # every document keeps ~1.7 objects per character alive for the garbage collector to walk
    schema = strawberry.Schema(Query, extensions=[document_cache(100, max_chars=400)])
    texts = [f'{{ echo(text: "{word * 30}") }}' for word in "abcd"]  # 46 characters each
    long = '{ echo(text: "' + "x" * 40 + '") }'  # over an eighth of 400: never kept
    for text in [*texts, *texts, long, long]:
        assert (await schema.execute(text)).errors is None
    assert parsed == [*texts, long, long]  # all four fit in 400 characters
    many = [f'{{ echo(text: "{word * 30}") }}' for word in "efghijklm"]
    for text in many:
        await schema.execute(text)
    parsed.clear()
    for text in texts:  # pushed out: 8 x 46 > 400
        await schema.execute(text)
    assert parsed == texts
