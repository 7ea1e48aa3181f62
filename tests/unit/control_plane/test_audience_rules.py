"""The audience's pure rules: normalized names, keys that keep name order and prefixes, cursors."""

from __future__ import annotations

import re

import pytest

from functions.domain import audience
from functions.domain.audience import CURSOR_PATTERN, name_key, normalize, prefix_range, sort_key


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
    assert prefix_range(None, None) == (None, None, None)
    assert prefix_range("an", None) == (None, prefix, prefix + "~")
    inside = sort_key("anna", "u")
    assert prefix_range("AN", inside) == (inside, None, prefix + "~")
    before = sort_key("aaron", "u")
    assert prefix_range("an", before) == (None, prefix, prefix + "~")
    # A query that normalizes to nothing lists everyone.
    assert prefix_range("   ", None) == (None, None, None)
