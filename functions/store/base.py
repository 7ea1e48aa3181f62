"""The repository interface. Two implementations (sqlite.py, dynamodb.py) pass one contract suite
(tests/integration/control_plane/test_store_contract.py).

Concurrency model: every change is read -> pure rule -> compare-and-set on the record's `version`,
retried on a lost race. The rule always runs on the latest record, so a limit (10 speakers) is
checked against what is really stored and a concurrent change is never overwritten.
"""

from __future__ import annotations

import base64
import binascii
import json
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
    def _page(
        self, state: SpaceState, *, limit: int, after: dict[str, Any] | None
    ) -> tuple[list[Space], dict[str, Any] | None]: ...

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


# Every value a cursor carries is a key this module wrote (`SPACE#<id>`, `STATE#live`, a discovery
# key `<timestamp>#<id>`): a short ASCII alphabet. Anything else (e.g. a lone surrogate, which
# neither SQLite nor DynamoDB can encode) is refused before it reaches a store.
CURSOR_VALUE = re.compile(r"[A-Za-z0-9#:.\-]{1,128}")


def encode_cursor(position: dict[str, Any] | None) -> str | None:
    if position is None:
        return None
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor("cursor is not one this API returned") from exc
    if not isinstance(position, dict) or not all(
        isinstance(v, str) and CURSOR_VALUE.fullmatch(v) for v in position.values()
    ):
        raise InvalidCursor("cursor is not one this API returned")
    return position
