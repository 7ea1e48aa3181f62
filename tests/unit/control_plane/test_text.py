"""The one visibility rule for titles and names (functions/domain/text.py) and the title pattern
the OpenAPI schema publishes for it."""

from __future__ import annotations

import re

from functions.api.schemas import TITLE_PATTERN
from functions.domain.text import shows_something


def test_the_title_pattern_accepts_exactly_the_characters_that_show_something() -> None:
    # Every code point, one at a time (surrogates cannot reach the API in JSON text): the schema a
    # client or fuzzer reads and the server's rule never disagree, in any plane.
    pattern = re.compile(TITLE_PATTERN)
    disagree = [
        hex(code)
        for code in range(0x110000)
        if not 0xD800 <= code <= 0xDFFF
        and (pattern.search(chr(code)) is not None) != shows_something(chr(code))
    ]
    assert disagree == []


def test_what_shows_nothing_on_its_own() -> None:
    for text in ("\u200b", "\u200d\ufe0f", "\U000e0041", "\U000e0100", "\u3164", "\u2066 \u2069", "\x00\t"):
        assert not shows_something(text), ascii(text)
    for text in ("a", "❤\ufe0f", "\u0301", "\U0001f600", "\ue000"):  # a combining mark or private use draws
        assert shows_something(text), ascii(text)
