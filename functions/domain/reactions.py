"""Reactions: the allowed emoji, the per-user rate limit and the publishing window (pure rules).

Flow (docs/reactions.md): a request is rate-limited per user, counted into the current window's
counter (one of SHARDS items, so 100k users never write one item), and whoever first arrives in a
later window claims the publication of every finished window and sends ONE aggregate to the room.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

from contract.names import REACTION_EMOJI

# The fixed set a client may send; anything else is a 422 naming `emoji`. The short codes are the
# store's attribute names (DynamoDB attribute names stay plain ASCII).
EMOJI: dict[str, str] = {
    "👏": "clap",
    "😂": "laugh",
    "❤️": "heart",
    "🔥": "fire",
    "💯": "hundred",
    "🙏": "pray",
    "😮": "wow",
    "👍": "thumbs",
}
EMOJI_BY_CODE = {code: emoji for emoji, code in EMOJI.items()}
assert tuple(EMOJI) == REACTION_EMOJI, "the store codes must cover exactly contract.names.REACTION_EMOJI"

# Seconds per aggregation window. 0.5 s: at most 2 messages/s reach a viewer (goal <= 5) while a
# reaction still shows within about a second (one window to fill, one window of grace, see below).
WINDOW_SECONDS = 0.5
# A window is published only once the NEXT window has also ended: a request that computed its
# window just before the boundary has one whole window to land its increment before anyone reads.
PUBLISH_LAG_WINDOWS = 2
# Counter items per window. One DynamoDB partition takes ~1000 writes/s; 100k listeners limited
# to 1 reaction/s can write 100k/s at the very worst, typically far less (a burst over ~10 s).
# 32 shards take 32k writes/s; the publisher reads them in one BatchGetItem (<= 100 keys).
SHARDS = 32
# A claim publishes at most this many finished windows (older ones are left out: a reaction that
# old is no longer live). 20 windows = 10 s, longer than any gap the reconciler's flush leaves.
MAX_CATCH_UP_WINDOWS = 20

# Spaces that reacted lately are marked in this many index partitions (a conditional write by the
# first reaction of each counter shard in a window: at most 2 x SHARDS = 64 a second for a Space
# whose audience fills every shard, one per window for a small one), so the trailing flush reads a
# handful of small partitions per window instead of every live Space's items. 16 partitions take
# ~250 Spaces at that peak at once (~1,000 writes/s per partition), thousands of ordinary ones.
ACTIVE_SHARDS = 16

# Per-user limit: at most 1 reaction per MIN_INTERVAL seconds and BURST per BURST_SECONDS window.
MIN_INTERVAL = 1.0
BURST = 10
BURST_SECONDS = 10.0
# Seconds the store keeps a limit or counter item (DynamoDB TTL; SQLite deletes by expiry); longer
# than any limit's burst_seconds.
ITEM_TTL = 120


def window_of(t: float) -> int:
    """The window index of epoch second `t`."""
    return math.floor(t / WINDOW_SECONDS)


def window_start(window: int) -> float:
    return window * WINDOW_SECONDS


def publishable_through(t: float) -> int:
    """The newest window that may be published at time `t`."""
    return window_of(t) - PUBLISH_LAG_WINDOWS


# A publisher reads window w from the start of window w + PUBLISH_LAG_WINDOWS on. A counter write
# that lands after that may have come after the read; this much room is left for two machines'
# clocks (NTP keeps Lambda's within milliseconds).
LATE_MARGIN_S = 0.25


def late(window: int, now: float) -> bool:
    """Whether a counter write for `window` that landed at `now` may have come after a publisher
    read the window (the store then takes the item back itself: DynamoReactions.add)."""
    return window_of(now + LATE_MARGIN_S) >= window + PUBLISH_LAG_WINDOWS


def windows_to_publish(last_published: int | None, through: int) -> range:
    """Windows a successful claim publishes: after the last published one, at most
    MAX_CATCH_UP_WINDOWS, ending with `through`."""
    first = through - MAX_CATCH_UP_WINDOWS + 1
    if last_published is not None:
        first = max(first, last_published + 1)
    return range(first, through + 1)


def shard_of(user: str) -> int:
    """A user's counter shard (stable, so one user's writes never spread; users spread evenly)."""
    return zlib.crc32(user.encode()) % SHARDS


def active_shard_of(space_id: str) -> int:
    return zlib.crc32(space_id.encode()) % ACTIVE_SHARDS


@dataclass(frozen=True)
class RateLimit:
    """A per-user, per-Space limit: at most one action per `min_interval` seconds and `burst` per
    `burst_seconds` bucket. `name` tells the stores which item (table) keeps it and the API which
    limit a 429 names. Reactions have one (LIMIT); hand raises and lowers reuse it (stage.py)."""

    name: str
    min_interval: float
    burst: int
    burst_seconds: float

    def describe(self) -> str:
        """What a 429 and the OpenAPI say: the buckets are windows of the clock (burst_bucket).
        Without a min_interval (hands), two full ones back to back pass twice `burst` within a
        moment across their boundary; with one (reactions: 1 s), the spacing caps any span first."""
        spacing = f", one per {self.min_interval:g} s" if self.min_interval > 0 else ""
        return f"at most {self.burst} in each {self.burst_seconds:g} s window of the clock{spacing}"


LIMIT = RateLimit(name="reaction", min_interval=MIN_INTERVAL, burst=BURST, burst_seconds=BURST_SECONDS)


def burst_bucket(t: float, limit: RateLimit = LIMIT) -> int:
    return math.floor(t / limit.burst_seconds)


@dataclass(frozen=True)
class LimitState:
    """What the store keeps per user and Space: the current burst bucket, the count in it, the
    time of the last accepted action."""

    bucket: int
    count: int
    last: float


def retry_after(state: LimitState | None, now: float, limit: RateLimit = LIMIT) -> float:
    """0 when an action at `now` is allowed; otherwise seconds until it would be. Without a
    min_interval (hands) only the burst counts: a concurrent request stamped later may have been
    stored first (`state.last` after `now`), and the earlier one must not be refused for that."""
    if state is None:
        return 0.0
    wait = max(0.0, state.last + limit.min_interval - now) if limit.min_interval > 0 else 0.0
    if state.bucket == burst_bucket(now, limit) and state.count >= limit.burst:
        wait = max(wait, (state.bucket + 1) * limit.burst_seconds - now)
    return wait


def after_accept(state: LimitState | None, now: float, limit: RateLimit = LIMIT) -> LimitState:
    bucket = burst_bucket(now, limit)
    count = state.count + 1 if state is not None and state.bucket == bucket else 1
    return LimitState(bucket=bucket, count=count, last=now)


def merge_counts(parts: list[dict[str, int]]) -> dict[str, int]:
    """Sum per-emoji counts (shards, windows), dropping codes this version does not know."""
    total: dict[str, int] = {}
    for part in parts:
        for code, n in part.items():
            if code in EMOJI_BY_CODE and n > 0:
                total[code] = total.get(code, 0) + int(n)
    return total
