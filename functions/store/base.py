"""The repository interface. Two implementations (sqlite.py, dynamodb.py) pass one contract suite
(tests/integration/control_plane/test_store_contract.py).

Concurrency model: every change is read -> pure rule -> compare-and-set on the record's `version`,
retried on a lost race. The rule always runs on the latest record, so a limit (10 speakers) is
checked against what is really stored and a concurrent change is never overwritten.
"""

from __future__ import annotations

import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..domain.errors import Conflict, NotFound
from ..domain.model import Space, SpaceState, VideoPolicy

# A compare-and-set loses only to another writer that succeeded, so attempts bound the number of
# concurrent writers one change can outlast; 20 parallel promotions need at most 20.
MAX_ATTEMPTS = 64
# Seconds of jittered backoff between attempts (doubles up to the cap).
BACKOFF_START = 0.002
BACKOFF_CAP = 0.05
# Seconds a webhook id and an Idempotency-Key are remembered (both stores expire them).
DEDUPE_TTL = 24 * 3600
PAGE_LIMIT_MAX = 100


@dataclass(frozen=True)
class IdempotencyKey:
    owner: str
    key: str
    # What was asked the first time; the same key with a different request is a client bug.
    fingerprint: str


@dataclass(frozen=True)
class Page:
    items: list[Space]
    cursor: str | None


@dataclass(frozen=True)
class Change:
    before: Space
    after: Space

    @property
    def changed(self) -> bool:
        return self.before is not self.after


class InvalidCursor(ValueError):
    pass


class SpaceStore(ABC):
    # --- what each backend implements -------------------------------------------------------
    @abstractmethod
    def get(self, space_id: str) -> Space | None: ...

    @abstractmethod
    def _insert(self, space: Space, idempotency: IdempotencyKey | None) -> Space:
        """Insert, or return the Space created earlier under the same idempotency key."""

    @abstractmethod
    def _compare_and_set(self, space: Space, *, expected_version: int) -> bool:
        """Write `space` only if the stored version is still `expected_version`."""

    @abstractmethod
    def _page(self, state: SpaceState, *, limit: int, after: str | None) -> tuple[list[Space], str | None]:
        """Up to `limit` Spaces in `state` after the discovery key `after`, and the key to continue
        from (None on the last page)."""

    @abstractmethod
    def adjust_listeners(self, space_id: str, delta: int, *, event_id: str | None = None) -> bool:
        """Atomically add `delta` to the listener count. With an event id, apply it at most once
        (same transaction as the dedupe record); returns False for a duplicate."""

    @abstractmethod
    def claim_event(self, event_id: str) -> bool:
        """Record a webhook id; False if it was seen before."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    # --- shared behaviour ------------------------------------------------------------------
    def create(self, space: Space, *, idempotency: IdempotencyKey | None = None) -> Space:
        return self._insert(space, idempotency)

    def require(self, space_id: str) -> Space:
        space = self.get(space_id)
        if space is None:
            raise NotFound("space_not_found", f"no Space with id {space_id!r}")
        return space

    def update(self, space_id: str, change: Callable[[Space], Space]) -> Change:
        """Apply a pure rule to the latest record until the write wins. Rule errors propagate."""
        delay = BACKOFF_START
        for _ in range(MAX_ATTEMPTS):
            before = self.require(space_id)
            after = change(before)
            if after is before:
                return Change(before, before)
            after = after.replace(version=before.version + 1)
            if self._compare_and_set(after, expected_version=before.version):
                return Change(before, after)
            time.sleep(random.uniform(0, delay))
            delay = min(delay * 2, BACKOFF_CAP)
        raise Conflict("too_much_contention", "the Space is changing too fast; retry")

    def list(self, state: SpaceState, *, limit: int, cursor: str | None = None) -> Page:
        items, last = self._page(state, limit=min(limit, PAGE_LIMIT_MAX), after=decode_cursor(cursor))
        return Page(items=items, cursor=encode_cursor(last))


# --- record codec shared by both backends ---------------------------------------------------


def to_record(space: Space) -> dict[str, Any]:
    return {
        "id": space.id,
        "title": space.title,
        "host": space.host,
        "video": space.video.value,
        "state": space.state.value,
        "cohosts": list(space.cohosts),
        "speakers": list(space.speakers),
        "raised_hands": list(space.raised_hands),
        "blocked": list(space.blocked),
        "pinned": space.pinned,
        "created_at": ts(space.created_at),
        "scheduled_start": ts(space.scheduled_start),
        "started_at": ts(space.started_at),
        "ended_at": ts(space.ended_at),
        "version": space.version,
    }


def from_record(record: dict[str, Any], *, listener_count: int = 0) -> Space:
    return Space(
        id=record["id"],
        title=record["title"],
        host=record["host"],
        video=VideoPolicy(record["video"]),
        state=SpaceState(record["state"]),
        cohosts=tuple(record["cohosts"]),
        speakers=tuple(record["speakers"]),
        raised_hands=tuple(record["raised_hands"]),
        blocked=tuple(record["blocked"]),
        pinned=record["pinned"],
        created_at=parse_ts(record["created_at"]),  # type: ignore[arg-type]
        scheduled_start=parse_ts(record["scheduled_start"]),
        started_at=parse_ts(record["started_at"]),
        ended_at=parse_ts(record["ended_at"]),
        version=int(record["version"]),
        # Webhook races (a leave applied before the join) can dip below zero for a moment.
        listener_count=max(0, int(listener_count)),
    )


def discovery_key(space: Space) -> str:
    """Sort key within a state: live by start time, scheduled by planned start, ended by end."""
    when = {
        SpaceState.LIVE: space.started_at,
        SpaceState.SCHEDULED: space.scheduled_start or space.created_at,
        SpaceState.ENDED: space.ended_at,
    }[space.state] or space.created_at
    return f"{ts(when)}#{space.id}"


def newest_first(state: SpaceState) -> bool:
    """Live Spaces list the most recently started first; scheduled ones the soonest first."""
    return state is not SpaceState.SCHEDULED


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# A cursor is the discovery key of the last Space on the page (`2026-12-01T20:15:00.123456Z#<id>`)
# written without separators so it needs no escaping in a URL: `20261201T201500123456Z_<id>`.
# Keyset pagination: any string of this shape is a position in key order and pages after it, so
# the API accepts exactly what its schema says; anything else is refused before a store sees it.
CURSOR_PATTERN = r"^[0-9]{8}T[0-9]{12}Z_[0-9a-f]{32}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_KEY = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})Z#([0-9a-f]{32})"
)


def encode_cursor(key: str | None) -> str | None:
    if key is None:
        return None
    match = _KEY.fullmatch(key)
    if match is None:  # a key this module wrote always matches
        raise ValueError(f"not a discovery key: {key!r}")
    y, mo, d, h, mi, sec, us, space_id = match.groups()
    return f"{y}{mo}{d}T{h}{mi}{sec}{us}Z_{space_id}"


def decode_cursor(cursor: str | None) -> str | None:
    """The discovery key a cursor stands for (None: the first page)."""
    if not cursor:
        return None
    if not _CURSOR.fullmatch(cursor):
        raise InvalidCursor("cursor is not one this API returned (pass back `cursor` as given)")
    c = cursor
    return f"{c[0:4]}-{c[4:6]}-{c[6:8]}T{c[9:11]}:{c[11:13]}:{c[13:15]}.{c[15:21]}Z#{c[23:]}"
