"""The audience a host sees: one entry per listener, ordered and searched by a normalized name.

Pure: how a name is normalized and turned into an order-preserving key, what a page may hold,
and how long an HLS viewer (who never connects to the room, so no leave ever arrives) stays
listed. The stores keep the entries; docs/listeners.md gives the limits and their reasons.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from .errors import Forbidden
from .model import Role, Space, SpaceState

# One page of the listener list. A host scrolls a list; 100 rows is more than a panel shows and
# bounds the work of one request (each store shard reads at most PAGE_MAX + 1 entries).
PAGE_MAX: Final = 100
PAGE_DEFAULT: Final = 50
# A search prefix (and the part of a name that is indexed) is at most this many characters after
# normalization: names are at most 64 characters (domain/people.py), and the key must stay far
# below DynamoDB's 1,024-byte sort key (64 characters are at most 256 UTF-8 bytes, 512 hex digits).
KEY_CHARS: Final = 64
QUERY_MAX_CHARS: Final = KEY_CHARS
# An HLS viewer only ever asks for a token; nothing tells the API they stopped watching. Their
# entry expires this long after their last token request (a reload or a promotion renews it).
# Issue 9 forbids a periodic call per viewer, so a viewer watching longer without reloading drops
# off the list after an hour, and one who left stays listed for at most an hour.
HLS_ENTRY_TTL_SECONDS: Final = 3600
# A WebRTC listener's entry is removed by the SFU's participant_left webhook, but a webhook can be
# lost and a token can be taken by someone who never connects. So the entry expires too, this long
# after it was written or last renewed, and the reconciler renews the entries of everyone it sees
# connected at most every AUDIENCE_RENEW_SECONDS (the cloud's sweep runs once a minute). A listener
# whose leave was lost drops off within 10-11 minutes; a connected one is renewed ~9 times before
# their entry could expire, so a sweep that fails for a few minutes unlists nobody.
WEBRTC_ENTRY_TTL_SECONDS: Final = 600
AUDIENCE_RENEW_SECONDS: Final = 60

# The sort key is `<hex of the normalized name's UTF-8>.<user id>`: lower-case hex keeps the byte
# order of the name (so the store's order is the order of normalized names) and a prefix of the
# name is a prefix of its hex; '.' sorts below every hex digit, so "ann" comes before "anna".
# User ids never hold '~' (schemas.USER_ID_PATTERN), which is the upper bound of a prefix range.
SEPARATOR: Final = "."
RANGE_END: Final = "~"
# A search matches the start of any word of a name ("jones" finds "Carol Jones"): besides the entry
# under the whole name, a listener has one under each later word, `w<hex of the name from that word
# on>.<user id>`. 'w' sorts after every hex digit, so these keys follow all whole-name keys: the
# unfiltered list reads below it, a search reads the whole-name range, then the word range. Names
# are indexed up to their fourth word (three word entries), which bounds the writes of a join.
WORD_PREFIX: Final = "w"
WORD_ENTRIES_MAX: Final = 3
# A cursor is the key of the last entry of the page: any string of this shape is a position in
# key order, so the API accepts every cursor its schema admits (pages after it, maybe empty).
CURSOR_PATTERN: Final = r"^w?[0-9a-f]{0,512}\.[A-Za-z0-9_.@:|\-]{1,128}$"
_CURSOR = re.compile(CURSOR_PATTERN)


class InvalidAudienceCursor(ValueError):
    pass


@dataclass(frozen=True)
class Listener:
    """One listener in a Space's audience."""

    user_id: str
    name: str
    picture: str | None
    joined_at: datetime
    # When the entry stops being listed unless renewed (None: never, as entries written before
    # WebRTC entries expired; the leave webhook or a host removes those).
    expires_at: datetime | None = None
    # The key this entry was read under (its whole name's, or a later word's); None: not read.
    # Where it was read is not part of what the entry is.
    listed_as: str | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        """The key of the entry under the whole name."""
        return sort_key(self.name, self.user_id)

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key the listener is stored under: the whole name's, then each later word's."""
        return all_keys(self.name, self.user_id)

    @property
    def position(self) -> str:
        """Where this entry sits in the order a page was read in (a cursor)."""
        return self.listed_as or self.key


@dataclass(frozen=True)
class ListenerPage:
    items: list[Listener]
    # The key of the last entry when more may follow (pass back as `cursor`), else None.
    cursor: str | None


def normalize(text: str) -> str:
    """Case-folded, accents stripped, whitespace runs made one space: "Zoë  Ånd" -> "zoe and"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    # casefold after NFKD too: decomposition can produce letters that fold further ("ﬃ" -> "ffi").
    return " ".join(unicodedata.normalize("NFC", stripped).casefold().split())[:KEY_CHARS]


def name_key(text: str) -> str:
    """The order-preserving, prefix-preserving key of a name or a search prefix."""
    return normalize(text).encode("utf-8").hex()


def sort_key(name: str, user_id: str) -> str:
    return f"{name_key(name)}{SEPARATOR}{user_id}"


def all_keys(name: str, user_id: str) -> tuple[str, ...]:
    """The whole name's key, then one per later word (up to WORD_ENTRIES_MAX): the name from that
    word on, so "Carol Ann Jones" is also found by "ann" and by "jones"."""
    words = normalize(name).split(" ")
    later = (" ".join(words[i:]) for i in range(1, min(len(words), 1 + WORD_ENTRIES_MAX)))
    return (sort_key(name, user_id), *(f"{WORD_PREFIX}{sort_key(rest, user_id)}" for rest in later))


def check_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    if not _CURSOR.fullmatch(cursor):
        raise InvalidAudienceCursor(
            "cursor is not one this API returned: [w]<hex digits>.<user id>"
            " (pass back `next_cursor` as given)"
        )
    return cursor


@dataclass(frozen=True)
class KeyRange:
    """Keys a page reads: above `after` (exclusive) or from `start` (inclusive), below `upper`."""

    after: str | None
    start: str | None
    upper: str


def search_ranges(query: str | None, after: str | None) -> list[KeyRange]:
    """The key ranges a page reads, in order, after the cursor: without a query every whole-name
    key; with one, the whole names that start with it, then the later words that do."""
    prefix = name_key(query) if query else ""
    if not prefix:
        bounds = [("", WORD_PREFIX)]
    else:
        bounds = [(prefix, prefix + RANGE_END), (WORD_PREFIX + prefix, WORD_PREFIX + prefix + RANGE_END)]
    ranges = []
    for start, upper in bounds:
        if after is not None and after >= upper:
            continue  # the cursor is past this range
        if after is not None and after >= start:
            ranges.append(KeyRange(after=after, start=None, upper=upper))
        else:
            ranges.append(KeyRange(after=None, start=start or None, upper=upper))
    return ranges


def shown(entry: Listener, *, query: str | None) -> bool:
    """Whether a page shows this entry: a later word's entry is not shown where the listener is
    already found under an earlier word (or the whole name), so a search lists them once."""
    if entry.listed_as is None or not entry.listed_as.startswith(WORD_PREFIX):
        return True
    wanted = normalize(query or "")
    rest = bytes.fromhex(entry.listed_as[len(WORD_PREFIX) :].split(SEPARATOR, 1)[0]).decode()
    words = normalize(entry.name).split(" ")
    at = len(words) - len(rest.split(" "))
    return not any(" ".join(words[j:]).startswith(wanted) for j in range(at))


def visible(listener: Listener, *, now: datetime, hidden: frozenset[str]) -> bool:
    """Still listed: not expired, not on stage or blocked (those are `hidden`)."""
    if listener.expires_at is not None and listener.expires_at <= now:
        return False
    return listener.user_id not in hidden


def authorize_listing(space: Space, *, actor: str) -> None:
    """Only the host and co-hosts see who listens (they are the ones who invite and moderate)."""
    if space.role_of(actor) not in (Role.HOST, Role.COHOST):
        raise Forbidden("moderators_only", "only the host and co-hosts can see the listener list")


def has_audience(space: Space) -> bool:
    """Only a live Space has listeners: an ended one's entries are people who have gone (they lapse
    with their TTL or their leave webhook), a scheduled one has no room yet."""
    return space.state is SpaceState.LIVE


def hidden_users(space: Space) -> frozenset[str]:
    """Users with an entry who are not listed: on stage (promoted; listed again once demoted) or
    blocked."""
    return frozenset((space.host, *space.cohosts, *space.speakers, *space.blocked))
