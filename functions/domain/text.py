"""Text one person types and everyone else sees (Space titles, display names): one line, with
nothing in it that hides or reorders the text around it. Pure."""

from __future__ import annotations

import unicodedata
from typing import Final

ZERO_WIDTH_JOINER: Final = "\u200d"
# Controls (Cc) and format characters (Cf) of the Basic Multilingual Plane: bidi overrides, isolates
# and marks, zero-width spaces, the BOM, invisible operators. They can make a title or a name read
# as another, or show nothing at all. The zero-width joiner stays: emoji sequences need it.
INVISIBLE: Final = frozenset(
    chr(code)
    for code in range(0x10000)
    if unicodedata.category(chr(code)) in ("Cc", "Cf") and chr(code) != ZERO_WIDTH_JOINER
)


def one_line(raw: str, *, also_drop: frozenset[str] = frozenset()) -> str:
    """`raw` as one line: every whitespace run (newlines and tabs included) one space, INVISIBLE
    characters and those of the `also_drop` categories removed (never the joiner), trimmed."""
    kept = []
    for char in raw:
        category = unicodedata.category(char)
        if char.isspace() or category in ("Zl", "Zp"):
            kept.append(" ")  # a newline between two words still separates them
        elif char != ZERO_WIDTH_JOINER and (char in INVISIBLE or category in also_drop):
            continue
        else:
            kept.append(char)
    return " ".join("".join(kept).split())


def char_class(chars: frozenset[str]) -> str:
    """A regex character class body naming `chars` as `\\uXXXX` ranges (JSON Schema and Python agree)."""
    codes = sorted(ord(c) for c in chars)
    if any(code > 0xFFFF for code in codes):
        raise ValueError("only characters of the Basic Multilingual Plane have a \\uXXXX escape")
    parts: list[str] = []
    start = previous = codes[0]
    for code in [*codes[1:], -1]:
        if code == previous + 1:
            previous = code
            continue
        parts.append(f"\\u{start:04x}" if start == previous else f"\\u{start:04x}-\\u{previous:04x}")
        start = previous = code
    return "".join(parts)
