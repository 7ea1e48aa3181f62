"""Text one person types and everyone else sees (Space titles, display names): one line, with
nothing in it that hides or reorders the text around it. Pure."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

ZERO_WIDTH_JOINER: Final = "\u200d"


def _ranges(*spans: tuple[int, int]) -> frozenset[str]:
    return frozenset(chr(code) for first, last in spans for code in range(first, last + 1))


# The sets below are written out, not derived from `unicodedata` at import: scanning every code
# point costs ~125 ms of CPU (a cold start pays it), and the tables differ between Python versions
# (3.11 has Unicode 14, the Lambda's 3.13 has 15.1), which would make the published title pattern
# differ too. tests/unit/control_plane/test_text.py checks them against the running `unicodedata`.

# Format characters (Cf) of every plane, as of Unicode 15.1: bidi overrides, isolates and marks,
# zero-width spaces, the BOM, invisible operators; beyond the BMP tag characters (U+E0020-E007F,
# which spell hidden text inside visible text), Egyptian, shorthand and musical format controls.
FORMAT: Final = _ranges(
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
CONTROLS: Final = _ranges((0x00, 0x1F), (0x7F, 0x9F))  # Cc
# Controls and the BMP's format characters. They can make a title or a name read as another, or
# show nothing at all. The zero-width joiner stays: emoji sequences need it.
INVISIBLE: Final = CONTROLS | frozenset(c for c in FORMAT if ord(c) <= 0xFFFF) - {ZERO_WIDTH_JOINER}
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): what a renderer shows as
# nothing unless it supports it: joiners, variation selectors, Hangul fillers, the tag block.
# Kept in text (a variation selector makes an emoji an emoji), but never enough on its own.
DEFAULT_IGNORABLE: Final = _ranges(
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
# What str.isspace() knows (no character outside the BMP is whitespace).
WHITESPACE: Final = _ranges(
    (0x09, 0x0D),
    (0x1C, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)
# Noncharacters: never assigned, and meant never to be shown (U+FDD0-FDEF, and the last two code
# points of each of the 17 planes).
NONCHARACTERS: Final = _ranges(
    (0xFDD0, 0xFDEF), *((p * 0x10000 + 0xFFFE, p * 0x10000 + 0xFFFF) for p in range(17))
)
# Graphic characters whose glyph is blank by design: the braille pattern with no dots, the usual
# way to make a name look empty where whitespace is refused (found from outside: a title of it
# was accepted). The Hangul fillers that draw nothing are default-ignorable, above.
BLANK_GLYPHS: Final = frozenset({"\u2800"})
# What shows nothing on its own: a title or a name needs one character outside this set. Not in it:
# a combining mark alone (it is drawn on a dotted circle, or on nothing, depending on the font) and
# private-use characters (a font of one's own may draw them); both pass.
SHOWS_NOTHING: Final = (
    WHITESPACE | CONTROLS | FORMAT | DEFAULT_IGNORABLE | NONCHARACTERS | BLANK_GLYPHS | {ZERO_WIDTH_JOINER}
)
# An emoji tag sequence (a subdivision flag such as England's or Scotland's): the black flag, tag
# characters, the cancel tag. Its tag characters stay when format characters are dropped.
EMOJI_TAG_SEQUENCE: Final = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")


def shows_something(text: str) -> bool:
    """Whether `text` has a character that is not whitespace, a control, a format character or a
    default-ignorable one (a joiner, a variation selector, a Hangul filler)."""
    return any(char not in SHOWS_NOTHING for char in text)


def one_line(raw: str, *, also_drop: frozenset[str] = frozenset(), drop: frozenset[str] = frozenset()) -> str:
    """`raw` as one line: every whitespace run (newlines and tabs included) one space, INVISIBLE
    characters, those in `drop` and those of the `also_drop` categories removed (never the joiner,
    nor the tags of an emoji tag sequence), trimmed."""
    flags = {i for match in EMOJI_TAG_SEQUENCE.finditer(raw) for i in range(match.start() + 1, match.end())}
    kept = []
    for i, char in enumerate(raw):
        if char.isspace() or unicodedata.category(char) in ("Zl", "Zp"):
            kept.append(" ")  # a newline between two words still separates them
        elif char == ZERO_WIDTH_JOINER or i in flags:
            kept.append(char)
        elif char in INVISIBLE or char in drop or unicodedata.category(char) in also_drop:
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
