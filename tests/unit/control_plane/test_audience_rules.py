"""The audience's pure rules: normalized names, keys that keep name order and prefixes, cursors."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from functions.domain import audience
from functions.domain.audience import (
    CURSOR_PATTERN,
    KeyRange,
    all_keys,
    name_key,
    normalize,
    search_ranges,
    sort_key,
)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Zoë  Ådams", "zoe adams"),
        ("ÉMILE", "emile"),
        ("Straße", "strasse"),
        ("ﬃon", "ffion"),
        ("  Ann ", "ann"),
    ],
)
def test_names_are_case_folded_and_accent_stripped(raw: str, normalized: str) -> None:
    assert normalize(raw) == normalized


def test_keys_keep_the_order_of_names_and_their_prefixes() -> None:
    names = ["anna", "ann", "Émile", "bob", "日本", "zed", "an"]
    keys = [sort_key(n, "u") for n in names]
    assert [n for _, n in sorted(zip(keys, names, strict=True))] == sorted(
        names, key=lambda n: normalize(n).encode()
    )
    assert sort_key("Ann", "u").startswith(name_key("AN"))
    assert not sort_key("Bob", "u").startswith(name_key("an"))


def test_every_key_is_a_cursor_the_api_accepts() -> None:
    for name in ["Zoë", "日本語の名前", "x" * 200, "🙂"]:
        key = sort_key(name, "google-oauth2|123")
        assert re.fullmatch(CURSOR_PATTERN, key)
        assert audience.check_cursor(key) == key


def test_a_range_starts_after_the_cursor_or_at_the_prefix() -> None:
    prefix = name_key("an")
    whole = KeyRange(after=None, start=prefix, upper=prefix + "~")
    words = KeyRange(after=None, start="w" + prefix, upper="w" + prefix + "~")
    # Without a query every whole-name key (below the word entries' "w"); with one, the whole
    # names that start with it, then the later words that do.
    assert search_ranges(None, None) == [KeyRange(after=None, start=None, upper="w")]
    assert search_ranges("an", None) == [whole, words]
    inside = sort_key("anna", "u")
    assert search_ranges("AN", inside) == [KeyRange(after=inside, start=None, upper=prefix + "~"), words]
    before = sort_key("aaron", "u")
    assert search_ranges("an", before) == [whole, words]
    # A cursor among the word entries reads on from there only.
    word_cursor = "w" + sort_key("anna", "u")
    assert search_ranges("an", word_cursor) == [KeyRange(after=word_cursor, start=None, upper=words.upper)]
    assert search_ranges(None, word_cursor) == []
    # A query that normalizes to nothing lists everyone.
    assert search_ranges("   ", None) == search_ranges(None, None)


def test_a_listener_is_found_by_the_start_of_any_word_and_listed_once() -> None:
    keys = all_keys("Carol Ann  Jones", "u1")
    assert keys[0] == sort_key("Carol Ann Jones", "u1")
    assert keys[1:] == ("w" + sort_key("ann jones", "u1"), "w" + sort_key("jones", "u1"))
    assert all(re.fullmatch(CURSOR_PATTERN, key) for key in keys)
    # Names are indexed up to their fourth word.
    assert len(all_keys("a b c d e f", "u")) == 1 + audience.WORD_ENTRIES_MAX
    assert all_keys("Cher", "u") == (sort_key("Cher", "u"),)

    def shown_under(name: str, query: str) -> list[int]:
        entries = [
            audience.Listener("u", name, None, datetime(2026, 1, 1, tzinfo=UTC), listed_as=key)
            for key in all_keys(name, "u")
        ]
        prefix = name_key(query)
        return [
            i
            for i, entry in enumerate(entries)
            if (entry.position.removeprefix("w")).startswith(prefix) and audience.shown(entry, query=query)
        ]

    # Each search shows the listener under the first of their words it matches, once.
    assert shown_under("John Jones", "jo") == [0]
    assert shown_under("John Jones", "jones") == [1]
    assert shown_under("Ana Anna Annabel", "ann") == [1]
    assert shown_under("Ana Anna Annabel", "anna") == [1]
    assert shown_under("Ana Anna Annabel", "annab") == [2]
    assert shown_under("Carol Ann Jones", "ann jo") == [1]
