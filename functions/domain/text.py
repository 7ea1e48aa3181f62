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


# Format characters of every plane: besides the BMP's (INVISIBLE), tag characters (U+E0020-E007F,
# which spell hidden text inside visible text), musical and shorthand formatting controls.
FORMAT: Final = frozenset(chr(code) for code in range(0x110000) if unicodedata.category(chr(code)) == "Cf")
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): what a renderer shows as
# nothing unless it supports it: joiners, variation selectors, Hangul fillers, the tag block.
# Kept in text (a variation selector makes an emoji an emoji), but never enough on its own.
DEFAULT_IGNORABLE: Final = frozenset(
    chr(code)
    for first, last in (
        (0x00AD, 0x00AD),
        (0x034F, 0x034F),
        (0x061C, 0x061C),
        (0x115F, 0x1160),
        (0x17B4, 0x17B5),
        (0x180B, 0x180F),
        (0x200B, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x206F),
        (0x3164, 0x3164),
        (0xFE00, 0xFE0F),
        (0xFEFF, 0xFEFF),
        (0xFFA0, 0xFFA0),
        (0xFFF0, 0xFFF8),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0000, 0xE0FFF),
    )
    for code in range(first, last + 1)
)
WHITESPACE: Final = frozenset(chr(code) for code in range(0x110000) if chr(code).isspace())
# What shows nothing on its own: a title or a name needs one character outside this set.
SHOWS_NOTHING: Final = WHITESPACE | INVISIBLE | FORMAT | DEFAULT_IGNORABLE | {ZERO_WIDTH_JOINER}


def shows_something(text: str) -> bool:
    """Whether `text` has a character that is not whitespace, a control, a format character or a
    default-ignorable one (a joiner, a variation selector, a Hangul filler)."""
    return any(char not in SHOWS_NOTHING for char in text)


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
    """A regex character class body naming `chars` as ranges: `\\uXXXX` escapes in the Basic
    Multilingual Plane, the characters themselves beyond it (no escape there means the same in
    Python, Rust and ECMAScript with the `u` flag, as JSON Schema validators use it)."""
    codes = sorted(ord(c) for c in chars)
    parts: list[str] = []
    start = previous = codes[0]
    for code in [*codes[1:], -1]:
        if code == previous + 1:
            previous = code
            continue
        parts.append(
            _class_char(start) if start == previous else f"{_class_char(start)}-{_class_char(previous)}"
        )
        start = previous = code
    return "".join(parts)


def _class_char(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)
