"""Who a caller is, as people see them: a display name and an avatar from the identity provider's
claims (`name`, `picture`), cleaned here so every page, token and pushed document shows the same
thing. Pure: no HTTP, no LiveKit. The limits and their reasons: docs/identity.md."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from contract import names as contract_names

from .model import Space
from .text import one_line, shows_something

# A name fits one line of a tile or a list row; 64 also keeps the room metadata's `names` map
# (host, co-hosts, speakers) far below LiveKit's metadata size limit (docs/identity.md).
NAME_MAX_CHARS: Final = 64
# Longer URLs are signed or tracking URLs we have no reason to carry through every token.
PICTURE_MAX_CHARS: Final = 1024
# Bytes of names and avatars in one hands message. Names come first: typical names (a UUID and ~20
# characters) fit 500 hands, more than the queue holds (Limits.max_raised_hands), and the worst case
# (128-character ids, 64 four-byte characters each) names the first ~80. Avatars take what is left:
# with typical names and ~100-character URLs, the faces of the oldest ~150 hands. The message then
# stays below 64 KiB, the data-channel message size a WebRTC peer may assume when the other side
# advertises none (docs/identity.md).
HAND_PEOPLE_BUDGET: Final = 32 * 1024

# Beyond what text.one_line removes: format characters of any plane (tag characters, say), lone
# surrogates, private use and unassigned characters, nothing a font shows reliably.
_NAME_DROPS: Final = frozenset({"Cf", "Cs", "Co", "Cn"})


@dataclass(frozen=True)
class Caller:
    """The signed-in user: `id` is the token subject (what the store and the SFU key on), `name`
    and `picture` are only ever shown."""

    id: str
    name: str
    picture: str | None = None
    # The identity provider's groups the caller is in (the `cognito:groups` claim): who may host.
    groups: frozenset[str] = frozenset()


def clean_name(raw: object, *, fallback: str) -> str:
    """The `name` claim as shown: one line without controls, format characters (bidi marks,
    zero-width spaces) or characters no font shows reliably (text.one_line), at most
    NAME_MAX_CHARS characters; the fallback (the user id) when nothing is left or it is not text."""
    if not isinstance(raw, str):
        return fallback[:NAME_MAX_CHARS]
    name = one_line(raw, also_drop=_NAME_DROPS)[:NAME_MAX_CHARS].rstrip()
    # Joiners and variation selectors alone (kept for emoji sequences) show nothing either.
    return name if shows_something(name) else fallback[:NAME_MAX_CHARS]


def clean_picture(raw: object, *, allow_http: bool = False) -> str | None:
    """The `picture` claim if it is an absolute https URL with a host (http too when `allow_http`,
    local mode only) of at most PICTURE_MAX_CHARS characters, without spaces or controls; else None.
    A page puts it into an <img src>, so no other scheme (javascript:, data:, file:) gets through."""
    if not isinstance(raw, str) or not raw or len(raw) > PICTURE_MAX_CHARS:
        return None
    if any(char.isspace() or unicodedata.category(char)[0] == "C" for char in raw):
        return None
    try:
        parts = urlsplit(raw)
    except ValueError:
        return None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        return None
    if not raw.lower().startswith(parts.scheme + "://"):
        return None
    return raw


def caller_from_claims(user_id: str, claims: Mapping[str, object], *, allow_http: bool = False) -> Caller:
    """A Caller from a verified token's claims; `user_id` is its already-checked `sub`."""
    return Caller(
        id=user_id,
        name=clean_name(claims.get("name"), fallback=user_id),
        picture=clean_picture(claims.get("picture"), allow_http=allow_http),
        groups=groups_from_claim(claims.get(contract_names.GROUPS_CLAIM)),
    )


def groups_from_claim(raw: object) -> frozenset[str]:
    """The groups a token names: a list (the ID token's own JSON), or the one string API Gateway's
    JWT authorizer makes of a list claim ("[hosts admins]"; Cognito group names have no spaces).
    Anything else names none."""
    if isinstance(raw, list):
        return frozenset(g for g in raw if isinstance(g, str) and g)
    if isinstance(raw, str):
        return frozenset(raw.strip().removeprefix("[").removesuffix("]").split())
    return frozenset()


def knows(space: Space, caller: Caller) -> bool:
    """Whether the Space has the caller's current display name and avatar (or lack of one)."""
    return space.names.get(caller.id) == caller.name and space.pictures.get(caller.id) == caller.picture


def named(space: Space, caller: Caller) -> Space:
    """The Space knowing the caller's current display name and avatar (the same Space when it
    already does). No picture drops an earlier one: they removed it at the identity provider."""
    if knows(space, caller):
        return space
    pictures = {user: url for user, url in space.pictures.items() if user != caller.id}
    if caller.picture:
        pictures[caller.id] = caller.picture
    return space.replace(names={**space.names, caller.id: caller.name}, pictures=pictures)


def _stage(space: Space) -> tuple[str, ...]:
    return (space.host, *space.cohosts, *space.speakers)


def stage_names(space: Space) -> dict[str, str]:
    """The names of the host, co-hosts and speakers: what the Space record and the room metadata
    carry. At most 1 + max_cohosts + max_speakers entries of NAME_MAX_CHARS each."""
    return {user: space.names[user] for user in _stage(space) if user in space.names}


def stage_pictures(space: Space) -> dict[str, str]:
    """The avatars of the host, co-hosts and speakers who have one: at most 1 + max_cohosts +
    max_speakers URLs of PICTURE_MAX_CHARS each."""
    return {user: space.pictures[user] for user in _stage(space) if user in space.pictures}


def _entry_bytes(user: str, value: str) -> int:
    return len(user.encode()) + len(value.encode()) + 6  # "id":"value",


def hand_people(space: Space, *, budget: int = HAND_PEOPLE_BUDGET) -> tuple[dict[str, str], dict[str, str]]:
    """The names and avatars of the people with a raised hand (the moderators' hands message),
    within one budget of `budget` UTF-8 bytes: names first, oldest hand first (a name matters more
    than a face), then avatars in the same order with what is left. Later hands show as their id,
    and later faces as initials."""
    names: dict[str, str] = {}
    pictures: dict[str, str] = {}
    spent = 0
    for source, out in ((space.names, names), (space.pictures, pictures)):
        for user in space.raised_hands:
            value = source.get(user)
            if value is None:
                continue
            if spent + _entry_bytes(user, value) > budget:
                break
            spent += _entry_bytes(user, value)
            out[user] = value
    return names, pictures


def picture_attributes(picture: str | None) -> dict[str, str]:
    """The participant attributes that carry an avatar: none without one."""
    return {contract_names.PICTURE_ATTRIBUTE: picture} if picture else {}
