"""Static API tokens: issued at random, admitted by their digest only, with a name and a role; bad settings say why."""

import pytest

from infra.security import api_tokens
from infra.security.api_tokens import TokenSettingError
from infra.security.principal import Principal


def test_an_issued_token_is_admitted_by_the_entry_printed_for_it_and_the_entry_holds_no_token() -> None:
    token = api_tokens.issue()
    entry = api_tokens.entry("ci", "writer", token)

    admitted = api_tokens.parse(entry)

    assert admitted == {api_tokens.digest(token): Principal("ci", "writer")}
    assert token not in entry and token.removeprefix(api_tokens.PREFIX) not in entry


def test_two_issued_tokens_differ_and_carry_256_random_bits() -> None:
    first, second = api_tokens.issue(), api_tokens.issue()

    assert first != second
    assert len(first.removeprefix(api_tokens.PREFIX)) >= 43  # 32 bytes in URL-safe base64


def test_entries_are_separated_by_commas_or_whitespace() -> None:
    a, b = api_tokens.issue(), api_tokens.issue()
    text = f"{api_tokens.entry('reader-bot', 'reader', a)},\n {api_tokens.entry('ops', 'admin', b)}"

    admitted = api_tokens.parse(text)

    assert sorted(admitted.values(), key=lambda p: p.name) == [
        Principal("ops", "admin"),
        Principal("reader-bot", "reader"),
    ]


@pytest.mark.parametrize(
    "text, says",
    [
        ("ci:writer", "name:role:sha256"),
        ("ci:writer:md5:" + "0" * 64, "name:role:sha256"),
        ("ci:writer:sha256:abc", "name:role:sha256"),
        ("ci:root:sha256:" + "0" * 64, "role must be one of reader, writer, admin"),
        ("c i:writer:sha256:" + "0" * 64, "name:role:sha256"),
        (":writer:sha256:" + "0" * 64, "a token's name"),
    ],
)
def test_a_bad_entry_is_refused_with_what_an_entry_looks_like(text: str, says: str) -> None:
    with pytest.raises(TokenSettingError, match=says):
        api_tokens.parse(text)


def test_a_token_pasted_where_its_digest_belongs_is_not_echoed_whole() -> None:
    token = api_tokens.issue()

    with pytest.raises(TokenSettingError) as refused:
        api_tokens.parse(token)

    assert token not in str(refused.value)


def test_two_names_for_one_token_are_refused() -> None:
    token = api_tokens.issue()
    text = f"{api_tokens.entry('a', 'reader', token)},{api_tokens.entry('b', 'admin', token)}"

    with pytest.raises(TokenSettingError, match="share one token"):
        api_tokens.parse(text)
