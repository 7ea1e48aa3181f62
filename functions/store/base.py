"""The repository interface. Two implementations (sqlite.py, dynamodb.py) pass one contract suite
(tests/integration/control_plane/test_store_contract.py).

Concurrency model: every change is read -> pure rule -> conditional write, retried on a lost race.
The rule always runs on the latest state, so a limit (10 speakers, 200 raised hands) is checked
against what is really stored and a concurrent change is never overwritten.

What a write is conditioned on (docs/control-plane.md, "Data model"):
- the Space's own fields (title, roles, pin, state): compare-and-set on `version`, which only
  changes when they do;
- raised hands and blocks: one record per user, plus a per-Space count that the write
  compare-and-sets (so the limits hold under concurrency without touching the Space record);
- the listener count: never read-modify-write; sharded counters that webhooks add to;
- the HLS viewers' heartbeats: one marker per (user, window) and sharded per-window counters; the
  estimate the reconciler derives from them: one item, written only with a newer window.
"""

from __future__ import annotations

import logging
import math
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from ..domain.audience import Listener, ListenerPage
from ..domain.broadcast import SeatClaim
from ..domain.errors import Busy, Conflict, NotFound
from ..domain.model import Invitation, Limits, Space, SpaceState, VideoPolicy, VideoSource
from ..domain.people import stage_names, stage_pictures
from ..domain.presence import HlsEstimate

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Enum)

# A compare-and-set loses only to another writer that succeeded, so attempts bound the number of
# concurrent writers one change can outlast; 20 parallel promotions need at most 20.
MAX_ATTEMPTS = 64
# Seconds of jittered backoff between attempts (doubles up to the cap).
BACKOFF_START = 0.002
BACKOFF_CAP = 0.05
# Seconds a webhook id and an Idempotency-Key are remembered (both stores expire them).
DEDUPE_TTL = 24 * 3600
PAGE_LIMIT_MAX = 100
# Records carry `schema_version`; a record without one was written before issue 9 (version 1: hands
# and blocks inside the Space record, one listener counter on it). Readers accept every version.
SCHEMA_VERSION = 2


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


@dataclass(frozen=True)
class Snapshot:
    """What a backend read for a change: the Space, plus what the backend needs to condition the
    write on it (counts as read, where each member is stored)."""

    space: Space
    # Members still kept inside a version-1 record (written before issue 9); new ones never are.
    legacy_hands: tuple[str, ...] = ()
    legacy_blocked: tuple[str, ...] = ()
    # The per-Space counts of hand and block records as read (None: no count record yet).
    hand_count: int | None = None
    block_count: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class InvalidCursor(ValueError):
    pass


class SpaceStore(ABC):
    # Live Spaces one person may host at once (None: any number), held by a per-host count that the
    # same transaction as the start moves (functions/domain/model.py Limits.max_live_per_host): a
    # start past it raises Conflict `too_many_live_spaces`, however many starts run at once.
    live_quota: int | None = None
    # Scheduled (not yet started) Spaces one person may host at once (None: any number), held by a
    # per-host set of their ids that the create, the start, the end and a hand-over move in the
    # same write (Limits.max_scheduled_per_host): past it, Conflict `too_many_scheduled_spaces`.
    scheduled_quota: int | None = None
    # The longest hand queue and block list (Limits.max_raised_hands, max_blocked). The rules refuse
    # past them on what they read; a store whose writes do not wait for each other (DynamoDB) also
    # conditions each growing write on them, so concurrent raises cannot pass the queue together.
    hand_cap: int = Limits.max_raised_hands
    block_cap: int = Limits.max_blocked

    # --- what each backend implements -------------------------------------------------------
    @abstractmethod
    def get(self, space_id: str, *, member: str | None = None, consistent: bool = True) -> Space | None:
        """The Space with its raised hands, blocks and listener count.

        With `member`, `raised_hands` and `blocked` hold at most that member (whether *they* raised
        a hand, are blocked): enough for that member's rules (join, webhook checks) in one
        round trip, without reading every hand and block of a large Space. `consistent=False` (with
        `member` only) may answer up to about a second old (the Space's own fields up to about two,
        where the store shares them between requests), at half the read cost: for what a listener
        only looks at (their page's read of the Space, a reaction)."""

    @abstractmethod
    def get_own(self, space_id: str) -> Space | None:
        """The Space's own fields only (title, roles, pin, state: one item), strongly consistent;
        `raised_hands` and `blocked` are empty and no counts are read. What a moderator-only request
        checks the caller's role on before the read of every member its rule needs, so someone who
        may not moderate costs one small read, never the whole Space."""

    @abstractmethod
    def queued_hands(self, space_id: str) -> int:
        """How many hands the Space's queue holds at least, strongly consistent, in one small read
        (0 for no Space): what lets a raise into a full queue be refused before the whole read
        (hands kept inside a record written before issue 9 are left out, so never more than the
        queue)."""

    @abstractmethod
    def _read(self, space_id: str) -> Snapshot | None:
        """Everything a change needs, read consistently enough that `_commit` can condition on it."""

    @abstractmethod
    def _insert(self, space: Space, idempotency: IdempotencyKey | None) -> Space:
        """Insert, or return the Space created earlier under the same idempotency key."""

    @abstractmethod
    def _commit(self, read: Snapshot, after: Space) -> Space | None:
        """Store `after` if nothing `read` saw has changed since; None when the race was lost.

        `after.version` is already the next version when the Space's own fields changed."""

    @abstractmethod
    def _page(
        self, state: SpaceState, *, limit: int, after: Positions | None, floor: str | None = None
    ) -> tuple[list[Space], Positions | None]:
        """Up to `limit` Spaces in `state` after the positions `after` (one per cursor slot; None:
        from the start), and the positions to continue from (None on the last page). `floor` (a
        state listed oldest first only): no discovery key at or below it is listed, whatever the
        positions; the index skips them, so hidden Spaces cost no read."""

    @abstractmethod
    def adjust_listeners(self, space_id: str, delta: int, *, event_id: str | None = None) -> bool:
        """Atomically add `delta` to the listener count. With an event id, apply it at most once
        (same transaction as the dedupe record); returns False for a duplicate."""

    # --- the HLS viewers' presence (domain/presence.py) ----------------------------------------
    @abstractmethod
    def record_presence(self, space_id: str, user: str, window: int, *, expires_at: float) -> bool:
        """Count `user` once in `window`: False (nothing written) when they already were. What is
        written may be deleted after `expires_at` (Unix seconds)."""

    @abstractmethod
    def presence_count(self, space_id: str, window: int) -> int:
        """How many users `window` counted."""

    @abstractmethod
    def put_hls_estimate(self, space_id: str, estimate: HlsEstimate) -> bool:
        """Store the estimate unless one of the same or a later window is stored (False).
        `get` returns it as `Space.hls`."""

    # --- WebRTC seats (domain/broadcast.py seat_claim) -----------------------------------------
    @abstractmethod
    def claim_seat(self, space_id: str, claim: SeatClaim) -> int | None:
        """The bucket of the user's seat, `claim.bucket`: the one they hold (not released), moved
        to this bucket if it was taken in the one before, or a new one if the Space holds fewer
        than `claim.capacity` seats in this bucket and the one before. None (nothing kept) when
        there is no seat. Concurrent claims never take more than the capacity."""

    @abstractmethod
    def release_seat(self, space_id: str, user: str, bucket: int) -> bool:
        """Give back the user's seat taken in `bucket` (they are counted now). At most once per
        seat: False when they hold none in that bucket (released already, or never taken)."""

    # --- removals for HLS viewers' pages (domain/viewers.py) ---------------------------------------
    @abstractmethod
    def record_removed_viewer(self, space_id: str, tag: str, *, at: datetime, expires_at: datetime) -> None:
        """Note that a host removed the person tagged `tag` at `at`, for the room metadata. Whole
        reads of the Space (`get` without a member, `update`'s) carry the notes not expired by the
        time of the read as `removed_viewers` (tag -> epoch ms); a member's read carries none. A
        later removal replaces an earlier one, never the other way round."""

    # --- removals without a block (domain/stage.py REMOVAL_NOTICE_SECONDS) ---------------------
    @abstractmethod
    def record_removal(self, space_id: str, user: str, *, at: datetime, expires_at: datetime) -> None:
        """Note that a host removed `user` (without blocking them) at `at`. A later removal replaces
        an earlier note, never the other way round; the note may be deleted after `expires_at`."""

    @abstractmethod
    def removed_at(self, space_id: str, user: str, *, now: datetime) -> datetime | None:
        """When a host last removed `user` from the Space, unless that note expired by `now`. A
        strongly consistent read: the removal may be milliseconds old."""

    @abstractmethod
    def claim_event(self, event_id: str) -> bool:
        """Record a webhook id; False if it was seen before."""

    @abstractmethod
    def release_event(self, event_id: str) -> None:
        """Forget a claimed webhook id whose effect could not be stored, so the SFU's retry of the
        event is applied instead of taken for a duplicate."""

    # --- the audience (docs/listeners.md): one entry per listener, apart from the Space ----------
    @abstractmethod
    def put_listener(self, space_id: str, listener: Listener) -> None:
        """Add or refresh one listener's entry, and delete the user's entries under other names
        written before it, so a renamed listener is listed once (one write, nothing shared with
        other joins; a lookup of the user's entries, and a delete only after a rename)."""

    @abstractmethod
    def renew_listeners(
        self, space_id: str, present: Sequence[tuple[str, str]], *, expires_at: datetime
    ) -> int:
        """Extend to `expires_at` the entries of these (user id, listed name) pairs, the listeners
        connected now. Never creates an entry (a leave or a removal wins) and never shortens one.
        Returns how many were extended."""

    @abstractmethod
    def listed(self, space_id: str, user_id: str) -> Listener | None:
        """The user's newest entry, expired or not (their name as listed), or None."""

    @abstractmethod
    def remove_listener(self, space_id: str, user_id: str, *, joined_before: datetime | None = None) -> int:
        """Delete the user's entries (every name they were listed under); with `joined_before`,
        only entries written before it, so a late leave of an earlier session keeps a rejoin.
        Returns how many were deleted (one under the whole name and one per later word of it)."""

    @abstractmethod
    def listeners(
        self,
        space_id: str,
        *,
        query: str | None,
        limit: int,
        after: str | None,
        now: datetime,
        hidden: frozenset[str] = frozenset(),
    ) -> ListenerPage:
        """Up to `limit` listed entries after the key `after`: every listener in name order, or with
        a query those whose normalized name starts with it, then those with a later word that does
        (each listed once, audience.search_ranges); expired entries and `hidden` users are
        skipped. A page may hold fewer than `limit` with more to come."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    # --- shared behaviour ------------------------------------------------------------------
    def create(self, space: Space, *, idempotency: IdempotencyKey | None = None) -> Space:
        return self._insert(space, idempotency)

    def require(self, space_id: str, *, member: str | None = None, consistent: bool = True) -> Space:
        space = self.get(space_id, member=member, consistent=consistent)
        if space is None:
            raise NotFound("space_not_found", f"no Space with id {space_id!r}")
        return space

    def require_own(self, space_id: str) -> Space:
        space = self.get_own(space_id)
        if space is None:
            raise NotFound("space_not_found", f"no Space with id {space_id!r}")
        return space

    def update(self, space_id: str, change: Callable[[Space], Space]) -> Change:
        """Apply a pure rule to the latest state until the write wins. Rule errors propagate."""
        delay = BACKOFF_START
        for _ in range(MAX_ATTEMPTS):
            read = self._read(space_id)
            if read is None:
                raise NotFound("space_not_found", f"no Space with id {space_id!r}")
            before = read.space
            after = change(before)
            if after is before:
                return Change(before, before)
            if own_fields(after) != own_fields(before):
                after = after.replace(version=before.version + 1)
            else:
                after = after.replace(version=before.version)
            stored = self._commit(read, after)
            if stored is not None:
                return Change(before, stored)
            time.sleep(random.uniform(0, delay))
            delay = min(delay * 2, BACKOFF_CAP)
        raise Busy("too_much_contention", "the Space is changing too fast; nothing was changed, retry")

    def discover(
        self, state: SpaceState, *, limit: int, cursor: str | None = None, since: datetime | None = None
    ) -> Page:
        """The public discovery page (GET /spaces), the same for every caller: list() here; a store
        whose listing costs reads per listed Space keeps such pages briefly (DynamoStore). What must
        be current (the reconciler's patrol) calls list()."""
        return self.list(state, limit=limit, cursor=cursor, since=since)

    def list(
        self, state: SpaceState, *, limit: int, cursor: str | None = None, since: datetime | None = None
    ) -> Page:
        """`since`: only Spaces whose discovery time (discovery_key) is at or after it; for a state
        listed oldest first (scheduled), where the hidden ones are the head of the order."""
        if since is not None and newest_first(state):
            raise ValueError(f"{state} Spaces are listed newest first; `since` bounds an oldest-first list")
        floor = None if since is None else f"{ts(since)}#"
        items, last = self._page(
            state, limit=min(limit, PAGE_LIMIT_MAX), after=decode_cursor(cursor), floor=floor
        )
        return Page(items=items, cursor=encode_cursor(last))


# --- record codec shared by both backends ---------------------------------------------------


def epoch_ms(when: datetime) -> int:
    """A time as the room metadata's removals carry it (domain/viewers.py): rounded up, so a removal
    is never earlier than a grant the page reads to the millisecond below."""
    return math.ceil(when.timestamp() * 1000)


def to_record(space: Space) -> dict[str, Any]:
    """The Space's own fields: what changes rarely. Hands, blocks and the count live elsewhere."""
    return {
        "schema_version": SCHEMA_VERSION,
        "id": space.id,
        "title": space.title,
        "host": space.host,
        # As stored when this release could not read it (Space.stored_video), else the policy.
        "video": space.stored_video or space.video.value,
        "record": space.record,
        "state": space.state.value,
        "cohosts": list(space.cohosts),
        "speakers": list(space.speakers),
        "pinned": space.pinned,
        "pinned_source": space.pinned_source.value,
        # At most max_speakers of them (each holds a seat).
        "invited": {user: {"until": ts(i.until), "tag": i.tag} for user, i in space.invited.items()},
        # The stage's display names and avatars (bounded by the stage limits); a hand's are on its
        # record.
        "names": stage_names(space),
        "pictures": stage_pictures(space),
        "created_at": ts(space.created_at),
        "scheduled_start": ts(space.scheduled_start),
        "started_at": ts(space.started_at),
        "ended_at": ts(space.ended_at),
        "host_away_since": ts(space.host_away_since),
        "version": space.version,
    }


def listed_without_counts(space: Space) -> Space:
    """A listed Space that is not live shows no listeners: a scheduled one has no room yet and an
    ended one none any more, so discovery reads no count for them (docs/control-plane.md, "Reads";
    GET /spaces/{id} still reads an ended Space's last count)."""
    return space.replace(listener_count=0, hls=None)


def own_fields(space: Space) -> dict[str, Any]:
    record = to_record(space)
    del record["version"]
    return record


def from_record(
    record: dict[str, Any],
    *,
    raised_hands: tuple[str, ...] = (),
    blocked: tuple[str, ...] = (),
    listener_count: int = 0,
    hand_names: dict[str, str] | None = None,
    hand_pictures: dict[str, str] | None = None,
    hls: HlsEstimate | None = None,
    removed_viewers: dict[str, int] | None = None,
) -> Space:
    """Any schema version. Version 1 (no `schema_version`) kept `raised_hands` and `blocked` in the
    record: the backends pass them in merged with the per-user records (legacy_members). Records
    and hand records written before names existed have none: those people show as their id; those
    from before avatars were stored have no pictures (initials)."""
    state = SpaceState(record["state"])
    stored_video = record.get("video")
    video = _known(VideoPolicy, stored_video, VideoPolicy.OFF, record)
    return Space(
        id=record["id"],
        title=record["title"],
        host=record["host"],
        video=video,
        # Read as the default because this release does not know it: kept to write it back.
        stored_video=None if stored_video in (None, video.value) else str(stored_video),
        # Records written before the choice existed were all recorded.
        record=record.get("record") is not False,
        state=state,
        cohosts=tuple(record.get("cohosts") or ()),
        speakers=tuple(record.get("speakers") or ()),
        # An ended Space has no queue: its leftover hand records are never read.
        raised_hands=() if state is SpaceState.ENDED else raised_hands,
        blocked=blocked,
        invited=_invitations(record.get("invited")),
        pinned=record.get("pinned"),
        # Records written before screen sharing have no source: their pin is a camera pin.
        pinned_source=_known(VideoSource, record.get("pinned_source"), VideoSource.CAMERA, record),
        names={**(hand_names or {}), **_names(record.get("names"))},
        pictures={**(hand_pictures or {}), **_names(record.get("pictures"))},
        created_at=parse_ts(record["created_at"]),  # type: ignore[arg-type]
        scheduled_start=parse_ts(record.get("scheduled_start")),
        started_at=parse_ts(record.get("started_at")),
        ended_at=parse_ts(record.get("ended_at")),
        host_away_since=parse_ts(record.get("host_away_since")),
        removed_viewers=dict(removed_viewers or {}),
        version=int(record.get("version", 0)),
        # Webhook races (a leave applied before the join) can dip below zero for a moment.
        listener_count=max(0, int(listener_count)),
        hls=hls,
    )


def _known(kind: type[E], value: object, default: E, record: dict[str, Any]) -> E:
    """A value of `kind`, or `default` for one this version does not know: written by a newer
    release (read by this one during a deploy, or after a rollback) or by hand. The default is the
    restrictive one (no camera, a camera pin), and one odd record must not turn every listing and
    the reconciler's sweep into errors, so it is logged and read, not refused."""
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        name, wanted = kind.__name__, default.value
        log.warning("Space %s: unknown %s %r read as %r", record.get("id"), name, value, wanted)
        return default


def _invitations(value: object) -> dict[str, Invitation]:
    """Records written before invitations waited for an answer have none."""
    if not isinstance(value, dict):
        return {}
    return {
        user: Invitation(until=parse_ts(entry["until"]), tag=entry["tag"])  # type: ignore[arg-type]
        for user, entry in value.items()
        if isinstance(entry, dict)
        and isinstance(entry.get("until"), str)
        and isinstance(entry.get("tag"), str)
    }


def _names(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def schema_version(record: dict[str, Any]) -> int:
    return int(record.get("schema_version", 1))


def legacy_members(record: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(raised hands, blocked) still stored inside a version-1 record."""
    if schema_version(record) >= 2:
        return (), ()
    return tuple(record.get("raised_hands") or ()), tuple(record.get("blocked") or ())


@dataclass(frozen=True)
class Members:
    """What a change does to the per-user records."""

    hands_added: tuple[str, ...]
    hands_removed: tuple[str, ...]
    blocks_added: tuple[str, ...]
    blocks_removed: tuple[str, ...]
    # Users whose role or pin changed: their hand and block records must still be as read.
    touched: frozenset[str]


def hosting_change(before: Space, after: Space) -> dict[str, int]:
    """How a change moves each person's count of live Spaces hosted: +1 for a start, -1 for an end,
    both for a live hand-over."""
    return _hosts_in(SpaceState.LIVE, before, after)


def scheduling_change(before: Space | None, after: Space) -> dict[str, int]:
    """How a change (or a create: `before` None) moves each person's set of scheduled Spaces
    hosted: +1 for a create, -1 for a start or a cancellation (end), both for a hand-over of a
    scheduled Space."""
    return _hosts_in(SpaceState.SCHEDULED, before, after)


def _hosts_in(state: SpaceState, before: Space | None, after: Space) -> dict[str, int]:
    """-1 for who hosted the Space in `state` before, +1 for who does after, when they differ."""
    was = before.host if before is not None and before.state is state else None
    now = after.host if after.state is state else None
    change: dict[str, int] = {}
    if was != now:
        if was is not None:
            change[was] = -1
        if now is not None:
            change[now] = 1
    return change


def scheduled_quota_reached(most: int, space_ids: Sequence[str]) -> Conflict:
    """Names the limit and the Spaces that fill it: the lobby stops listing those a day past their
    start, so the answer is where a host finds what to start or cancel."""
    held = ", ".join(sorted(space_ids)) or "none readable now"
    return Conflict(
        "too_many_scheduled_spaces",
        f"you already have {most} scheduled Spaces, the most one person may (SPACES_MAX_SCHEDULED_PER_HOST);"
        f" start one or cancel one (POST /spaces/{{id}}/end) first. Yours: {held}",
    )


def live_quota_reached(most: int) -> Conflict:
    return Conflict(
        "too_many_live_spaces", f"you already host {most} live Spaces, the most one person may; end one first"
    )


def members_change(before: Space, after: Space) -> Members:
    def diff(old: tuple[str, ...], new: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return tuple(u for u in new if u not in old), tuple(u for u in old if u not in new)

    hands_added, hands_removed = diff(before.raised_hands, after.raised_hands)
    blocks_added, blocks_removed = diff(before.blocked, after.blocked)
    roles = set(before.cohosts) ^ set(after.cohosts) | set(before.speakers) ^ set(after.speakers)
    pin_changed = (before.pinned, before.pinned_source) != (after.pinned, after.pinned_source)
    pins = {before.pinned, after.pinned} - {None} if pin_changed else set()
    # An invitation sent must not pass a concurrent block either: its tag would be published and a
    # seat held for a blocked person.
    invited = set(after.invited) - set(before.invited)
    touched = roles | pins | invited | set(hands_added + hands_removed + blocks_added + blocks_removed)
    return Members(hands_added, hands_removed, blocks_added, blocks_removed, frozenset(touched))  # type: ignore[arg-type]


def discovery_key(space: Space) -> str:
    """Sort key within a state: live by start time, scheduled by planned start, ended by end."""
    when = {
        SpaceState.LIVE: space.started_at,
        SpaceState.SCHEDULED: space.scheduled_start or space.created_at,
        SpaceState.ENDED: space.ended_at,
    }[space.state] or space.created_at
    return f"{ts(when)}#{space.id}"


def above_floor(position: str, floor: str | None) -> str:
    """The position an oldest-first slot continues from when nothing at or below `floor` is listed:
    the floor itself while the slot's own position is below it (START: nothing read yet)."""
    if floor is None or position == END:
        return position
    return floor if position == START or position < floor else position


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


# Discovery index shards (DynamoDB; docs/control-plane.md, "Data model", says why 4). A page reads
# every shard plus the unsharded partition that records written before issue 9 still sit in, so a
# cursor holds one position per slot: CURSOR_SLOTS = shards + 1, in the order shard 0..3, legacy.
DISCOVERY_SHARDS = 4
CURSOR_SLOTS = DISCOVERY_SHARDS + 1
# Slot positions besides a discovery key: nothing read from the slot yet, or nothing left in it.
START, END = "0", "-"
# A position that is a discovery key (`2026-12-01T20:15:00.123456Z#<id>`) is written without
# separators so the cursor needs no escaping in a URL: `20261201T201500123456Z_<id>`. The cursor
# joins the CURSOR_SLOTS positions with `~`. Keyset pagination: every string of this shape is a
# set of positions in key order and pages after them (a page may come out empty or short; all `-`
# is the empty last page), so the API accepts exactly what its schema says; anything else is
# refused before a store sees it.
_POSITION = r"(?:-|0|[0-9]{8}T[0-9]{12}Z_[0-9a-f]{32})"
CURSOR_PATTERN = rf"^{_POSITION}(?:~{_POSITION}){{{CURSOR_SLOTS - 1}}}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_KEY = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})Z#([0-9a-f]{32})"
)
# Per slot: START, END or a discovery key.
Positions = tuple[str, ...]


def encode_cursor(positions: Positions | None) -> str | None:
    if positions is None:
        return None
    if len(positions) != CURSOR_SLOTS:  # a store always returns every slot
        raise ValueError(f"a cursor has {CURSOR_SLOTS} positions, not {len(positions)}")
    return "~".join(_encode_position(p) for p in positions)


def _encode_position(position: str) -> str:
    if position in (START, END):
        return position
    match = _KEY.fullmatch(position)
    if match is None:  # a key this module wrote always matches
        raise ValueError(f"not a discovery key: {position!r}")
    y, mo, d, h, mi, sec, us, space_id = match.groups()
    return f"{y}{mo}{d}T{h}{mi}{sec}{us}Z_{space_id}"


def decode_cursor(cursor: str | None) -> Positions | None:
    """The positions a cursor stands for (None: the first page)."""
    if not cursor:
        return None
    if not _CURSOR.fullmatch(cursor):
        raise InvalidCursor(
            f"cursor is not one this API returned: {CURSOR_SLOTS} positions joined by '~', each '-', '0' "
            "or <YYYYMMDDTHHMMSSffffffZ>_<32 hex> (pass back `cursor` as given)"
        )
    return tuple(_decode_position(p) for p in cursor.split("~"))


def _decode_position(c: str) -> str:
    if c in (START, END):
        return c
    return f"{c[0:4]}-{c[4:6]}-{c[6:8]}T{c[9:11]}:{c[11:13]}:{c[13:15]}.{c[15:21]}Z#{c[23:]}"
