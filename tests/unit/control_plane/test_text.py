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
    # A blank braille pattern, the usual stand-in for whitespace where whitespace is refused (found
    # from outside: a title of it was accepted).
    assert not shows_something("\u2800 \u2800"), "blank braille"
    # Noncharacters, meant never to be shown (found from outside: a title of two was accepted).
    for text in ("\ufffe\uffff", "\U0010ffff", "\ufdd0", "\U0001fffe"):
        assert not shows_something(text), ascii(text)
    for text in ("a", "❤\ufe0f", "\u0301", "\U0001f600", "\ue000"):  # a combining mark or private use draws
        assert shows_something(text), ascii(text)


def test_the_written_out_sets_match_this_pythons_unicode_tables() -> None:
    # FORMAT is Unicode 15.1's; an older table (3.11 has 14.0) knows a few of its characters as
    # unassigned, never as anything else.
    import unicodedata

    from functions.domain.text import FORMAT, INVISIBLE, WHITESPACE, ZERO_WIDTH_JOINER

    every = [chr(code) for code in range(0x110000)]
    assert {c for c in every if unicodedata.category(c) == "Cf"} <= FORMAT
    assert {unicodedata.category(c) for c in FORMAT} <= {"Cf", "Cn"}
    assert WHITESPACE == {c for c in every if c.isspace()}
    bmp = every[:0x10000]
    assert {c for c in bmp if unicodedata.category(c) in ("Cc", "Cf")} - {ZERO_WIDTH_JOINER} == {
        c for c in INVISIBLE if unicodedata.category(c) != "Cn"
    }


def test_a_subdivision_flag_keeps_its_tags_and_stray_tags_go() -> None:
    from functions.domain.text import FORMAT, one_line

    scotland = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    assert one_line(f"{scotland} Scotland meetup", drop=FORMAT) == f"{scotland} Scotland meetup"
    # Tags not in a well-formed sequence (hidden text, or one without its cancel tag) are dropped.
    assert one_line("Hi\U000e0068\U000e0069 all", drop=FORMAT) == "Hi all"
    assert one_line("\U0001f3f4\U000e0067\U000e0062 x", drop=FORMAT) == "\U0001f3f4 x"
