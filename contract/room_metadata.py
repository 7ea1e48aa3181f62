"""Room metadata: what the control plane tells every room member about the Space.

Defined by schema/room_metadata.schema.json; this is its Python side. The control plane writes it
(`to_json`, built by functions/domain/pushed.py); the media agent, the composer and the web client
read it, and the composer copies it to state.json for HLS viewers. A reader never fails on it: a
malformed document or field reads as the default.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, cast, get_args

from contract.broadcast import TimelineEntry
from contract.stage import VideoSource, video_source

# How many removals `removed_viewers` holds, the latest (functions/domain/viewers.py says why).
REMOVED_VIEWERS_MAX = 16
# state.json's `timeline_recent`: the stage changes of at least this many seconds back (a viewer
# further behind live than that shows no holder), at most this many of them.
TIMELINE_RECENT_SECONDS = 30.0
TIMELINE_RECENT_MAX = 8
# Dataclass field metadata: False on a field that is not one of the document's (tests/unit/contract).
WIRE = "wire"

VideoPolicy = Literal["off", "host", "speakers"]
VIDEO_POLICIES: tuple[VideoPolicy, ...] = get_args(VideoPolicy)
SpaceState = Literal["scheduled", "live", "ended"]
SPACE_STATES: tuple[SpaceState, ...] = get_args(SpaceState)


@dataclass(frozen=True)
class RoomMetadata:
    space_id: str = ""
    video: VideoPolicy = "off"
    # Whether the broadcast is kept as the recording once the Space ends (a document without it: yes).
    record: bool = True
    pinned: str | None = None
    pinned_source: VideoSource = "camera"
    title: str = ""
    state: SpaceState = "live"
    host: str = ""
    cohosts: tuple[str, ...] = ()
    speakers: tuple[str, ...] = ()
    # id -> display name of stage members (not hashed: a plain dict reads and writes as JSON).
    names: dict[str, str] = field(default_factory=dict)
    # id -> avatar URL (https) of stage members who have one: HLS viewers see no participant.
    pictures: dict[str, str] = field(default_factory=dict)
    listener_count: int = 0
    version: int = 0
    # While the host is out of the room of a live Space: when it ends unless they are back (epoch
    # ms, to one reconciler pass); None while the host is there.
    host_away_until: int | None = None
    # HLS viewers a host removed or blocked lately: viewer tag -> when (epoch ms, the API's clock;
    # functions/domain/viewers.py). A page whose own tag is here with a time after its grant's
    # `issued_at` stops watching.
    removed_viewers: dict[str, int] = field(default_factory=dict)
    # Listeners invited to speak who have not answered: viewer tag -> when the invitation lapses
    # (epoch ms, the API's clock). A listener's page whose own tag is here asks them.
    invited: dict[str, int] = field(default_factory=dict)
    # state.json only (the composer's): the broadcast's latest stage changes, without names
    # (`recent_timeline`). The control plane never writes it, and it is left out when empty.
    timeline_recent: tuple[TimelineEntry, ...] = ()
    # Fields of the document this version does not know (a newer control plane added them), kept
    # and written back as they came: the composer relays the document to state.json, and a
    # composer older than the control plane (one that keeps its Spaces through a deploy) must not
    # drop, for the rest of a Space, what the newer pages read there. Not compared.
    # Not a field of the document itself (`WIRE: False`): the schema test skips it.
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False, metadata={WIRE: False})

    @property
    def seated(self) -> tuple[str, ...]:
        """The stage in the order its members took their seats: the host, the co-hosts, the
        speakers (the control plane adds a newcomer at the end of their list; a hand-over swaps
        the host and the co-host in place). Pages and the broadcast order the stage by it
        (web/src/stage.ts `stageOrder`, composer/layout.py `stage_order`)."""
        return tuple(identity for identity in (self.host, *self.cohosts, *self.speakers) if identity)

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        del doc["extra"]
        doc = {**self.extra, **doc}
        doc["cohosts"] = list(self.cohosts)
        doc["speakers"] = list(self.speakers)
        doc["names"] = dict(self.names)
        doc["pictures"] = dict(self.pictures)
        doc["removed_viewers"] = dict(self.removed_viewers)
        doc["invited"] = dict(self.invited)
        del doc["timeline_recent"]
        if self.timeline_recent:
            doc["timeline_recent"] = [entry.to_dict() for entry in self.timeline_recent]
        return doc

    def removed_since(self, tag: str | None, issued_ms: int) -> bool:
        """Whether this document says the viewer tagged `tag` was removed after a grant issued at
        `issued_ms` (epoch ms)."""
        return tag is not None and self.removed_viewers.get(tag, -1) > issued_ms

    def may_speak(self, identity: str) -> bool:
        """Whether this document puts `identity` on stage, for the media workers that mix and
        spotlight microphones. The control plane revokes a demoted or blocked speaker's grant only
        after the change, and a blocked one may come back with an older token: until then the SFU
        still forwards their microphone, and this is what keeps it out. A document that names no
        host was not written by the control plane (a room being set up, a test room): there, every
        published microphone counts, as the SFU's grants already allow only stage members."""
        if not self.host:
            return True
        return identity == self.host or identity in self.cohosts or identity in self.speakers

    def to_json(self) -> str:
        # UTF-8, not \u escapes: a display name costs at most 4 bytes a character (docs/identity.md).
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)


def _names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str) and v)


def display_names(value: object) -> dict[str, str]:
    """A `names` (or `pictures`) map as read: entries that are not text to text are dropped (absent:
    empty)."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str) and v}


def tag_times(value: object) -> dict[str, int]:
    """A map of viewer tags to times (`removed_viewers`, `invited`) as read: entries that are not
    text to a time are dropped."""
    if not isinstance(value, dict):
        return {}
    return {
        k: v
        for k, v in value.items()
        if isinstance(k, str) and k and isinstance(v, int) and not isinstance(v, bool) and v >= 0
    }


def recent_timeline(entries: Sequence[TimelineEntry], *, now: float) -> tuple[TimelineEntry, ...]:
    """What state.json carries of the stage's changes at `now` (epoch seconds): those of the last
    TIMELINE_RECENT_SECONDS and the one in force when they began, at most TIMELINE_RECENT_MAX (the
    latest), without names (the document names the stage already)."""
    since = now - TIMELINE_RECENT_SECONDS
    first = 0
    for i, entry in enumerate(entries):
        if entry.t <= since:
            first = i
    kept = entries[first:][-TIMELINE_RECENT_MAX:]
    return tuple(
        TimelineEntry(t=e.t, spotlight=e.spotlight, video_spotlight=e.video_spotlight, pinned=e.pinned)
        for e in kept
    )


def _identity(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def timeline_recent(value: object) -> tuple[TimelineEntry, ...]:
    """A `timeline_recent` list as read: entries without a finite time are dropped, identities that
    are not text read as null, and the list as its last TIMELINE_RECENT_MAX."""
    if not isinstance(value, list):
        return ()
    out: list[TimelineEntry] = []
    for raw in value[-TIMELINE_RECENT_MAX:]:
        if not isinstance(raw, dict):
            continue
        t = raw.get("t")
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            continue
        out.append(
            TimelineEntry(
                t=float(t),
                spotlight=_identity(raw.get("spotlight")),
                video_spotlight=_identity(raw.get("video_spotlight")),
                pinned=_identity(raw.get("pinned")),
            )
        )
    return tuple(out)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _epoch_ms(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


_FIELDS = frozenset(f.name for f in fields(RoomMetadata) if f.metadata.get(WIRE, True))


def parse_room_metadata(value: str | bytes | None) -> RoomMetadata:
    if not value:
        return RoomMetadata()
    try:
        raw = json.loads(value)
    except ValueError:
        return RoomMetadata()
    if not isinstance(raw, dict):
        return RoomMetadata()
    space_id, video, pinned, title = (raw.get(k) for k in ("space_id", "video", "pinned", "title"))
    state, host = raw.get("state"), raw.get("host")
    return RoomMetadata(
        space_id=space_id if isinstance(space_id, str) else "",
        video=cast(VideoPolicy, video) if video in VIDEO_POLICIES else "off",
        record=raw.get("record") is not False,
        pinned=pinned if isinstance(pinned, str) and pinned else None,
        pinned_source=video_source(raw.get("pinned_source")),
        title=title if isinstance(title, str) else "",
        state=cast(SpaceState, state) if state in SPACE_STATES else "live",
        host=host if isinstance(host, str) else "",
        cohosts=_names(raw.get("cohosts")),
        speakers=_names(raw.get("speakers")),
        names=display_names(raw.get("names")),
        pictures=display_names(raw.get("pictures")),
        listener_count=_count(raw.get("listener_count")),
        version=_count(raw.get("version")),
        host_away_until=_epoch_ms(raw.get("host_away_until")),
        removed_viewers=tag_times(raw.get("removed_viewers")),
        invited=tag_times(raw.get("invited")),
        timeline_recent=timeline_recent(raw.get("timeline_recent")),
        extra={key: value for key, value in raw.items() if key not in _FIELDS},
    )
