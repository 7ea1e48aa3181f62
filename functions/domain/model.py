"""The Space as plain data. No I/O here: the store persists it, the rules in this package change it."""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

from .presence import HlsEstimate


class SpaceState(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


class Role(enum.StrEnum):
    HOST = "host"
    COHOST = "cohost"
    SPEAKER = "speaker"
    LISTENER = "listener"


class VideoPolicy(enum.StrEnum):
    OFF = "off"
    # Only the host may publish a camera.
    HOST = "host"
    # Host, co-hosts and speakers may publish a camera.
    SPEAKERS = "speakers"


class VideoSource(enum.StrEnum):
    """Which of a person's video tracks a pin shows (contract: stage.schema.json $defs VideoSource)."""

    CAMERA = "camera"
    SCREEN_SHARE = "screen_share"


STAGE_ROLES = frozenset({Role.HOST, Role.COHOST, Role.SPEAKER})


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Every limit the rules enforce, named in one place (defaults come from core/config.py)."""

    max_cohosts: int = 2
    max_speakers: int = 10
    # A queue longer than this is not readable by a host; it also bounds the stored record size.
    max_raised_hands: int = 200
    # Bounds the stored record (a DynamoDB item is at most 400 KB).
    max_blocked: int = 1000
    # Live Spaces one person hosts at once (None: no quota). Each live Space holds a room, a stage
    # agent and (with broadcasting) a composer from the start: without a quota one account of a
    # public deployment could start Spaces until the worker fleets are full and nobody else's Space
    # got its agents or its broadcast. The cloud stack sets 2 (context `max_live_per_host`).
    max_live_per_host: int | None = None
    # Scheduled (not yet started) Spaces one person hosts at once (None: no quota). Creating costs
    # nothing else, so without it one account could fill the lobby's Scheduled list and the table.
    # 20 in cloud mode unless set (core/config.py).
    max_scheduled_per_host: int | None = None


@dataclass(frozen=True)
class Invitation:
    """A moderator's invitation to speak, waiting for the listener's answer (domain/stage.py)."""

    # When it lapses unanswered (stage.INVITATION_SECONDS after it was sent).
    until: datetime
    # The invitee's viewer tag (domain/viewers.py): how the public documents (the room metadata,
    # state.json) tell the invitee's page without naming the person before they agreed.
    tag: str


@dataclass(frozen=True, kw_only=True)
class Space:
    id: str
    title: str
    host: str
    video: VideoPolicy
    created_at: datetime
    state: SpaceState = SpaceState.SCHEDULED
    # Whether the broadcast is kept as the Space's recording once it ends (the host's choice at
    # creation, like X's "Record Space"). Without it the live broadcast still runs for the audience,
    # no replay is offered, and its objects are deleted within about two days (docs/broadcast.md).
    record: bool = True
    cohosts: tuple[str, ...] = ()
    speakers: tuple[str, ...] = ()
    raised_hands: tuple[str, ...] = ()
    # Listeners invited to speak who have not answered yet: id -> invitation. Each holds a speaker
    # seat until it is answered, withdrawn or lapses (stage.pending_invitations).
    invited: dict[str, Invitation] = field(default_factory=dict)
    blocked: tuple[str, ...] = ()
    pinned: str | None = None
    # What of the pinned person the big tile shows. Camera whenever nobody is pinned.
    pinned_source: VideoSource = VideoSource.CAMERA
    # id -> display name (domain/people.py) of members the control plane has seen sign in: the
    # host (at create), whoever raised a hand (stored with the hand), stage members (on join).
    # Only shown, never a key: everything else goes by id.
    names: dict[str, str] = field(default_factory=dict)
    # id -> avatar URL (domain/people.py: https, cleaned) of the same people, for those who have
    # one; learnt where their name is. Only shown.
    pictures: dict[str, str] = field(default_factory=dict)
    scheduled_start: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    # When the host was last seen leaving the room (None: connected, or not seen gone). Set by the
    # participant_left webhook or by the reconciler when the room lacks the host; cleared when the
    # host is back. A live Space whose host stays away longer than the grace period ends (host.py).
    host_away_since: datetime | None = None
    # Bumped on every change; the stores write only if it is still the version they read.
    version: int = 0
    # The latest removals, for HLS viewers' pages (domain/viewers.py): viewer tag -> when (epoch
    # ms). Stored apart from the Space's own fields and read only by whole reads (the reconciler's,
    # a moderator's, every write's): a member's read, the one every join makes, does not carry them.
    removed_viewers: dict[str, int] = field(default_factory=dict)
    # Kept by webhooks in a separate counter (not part of `version`), merged in on read. The WebRTC
    # audience only, exact: it decides who joins over WebRTC (broadcast.join_mode).
    listener_count: int = 0
    # The HLS viewers estimated from sampled heartbeats (domain/presence.py), kept by the
    # reconciler in an item of its own, merged in on read. None: never estimated.
    hls: HlsEstimate | None = None
    # The stored `video` when it was a value this release does not know (a newer release wrote it;
    # store/base.py reads it as off): written back as it was, since no rule changes the policy of
    # an existing Space, so an older release's write does not downgrade it for good. Not compared.
    stored_video: str | None = field(default=None, compare=False)

    @property
    def audience_count(self) -> int:
        """Everyone listening: the exact WebRTC count plus, while live, the HLS estimate. What the
        room metadata, state.json and the API show as `listener_count`."""
        hls = self.hls.viewers if self.hls is not None and self.state is SpaceState.LIVE else 0
        return max(self.listener_count, 0) + hls

    @property
    def room_name(self) -> str:
        return room_name_for(self.id)

    def role_of(self, user_id: str) -> Role:
        if user_id == self.host:
            return Role.HOST
        if user_id in self.cohosts:
            return Role.COHOST
        if user_id in self.speakers:
            return Role.SPEAKER
        return Role.LISTENER

    def on_stage(self, user_id: str) -> bool:
        return self.role_of(user_id) in STAGE_ROLES

    def replace(self, **changes: object) -> Space:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


ROOM_PREFIX = "space-"

# User ids are JWT subjects, LiveKit identities (any string to LiveKit) and parts of store keys
# (`IDEMP#<user>#<key>`, so never `#`): a conservative alphabet that still takes common OIDC
# subjects, e.g. Auth0's `google-oauth2|1234` (`|` is percent-encoded in a URL path).
USER_ID_PATTERN = r"^[A-Za-z0-9_.@:|\-]{1,128}$"
_USER_ID = re.compile(USER_ID_PATTERN)


def is_user_id(identity: str) -> bool:
    """Whether `identity` could be a user the API issues tokens to (a room's participants may have
    any identity the SFU accepts)."""
    return _USER_ID.fullmatch(identity) is not None


def room_name_for(space_id: str) -> str:
    """Room names are derived from the Space id, so no client can pick or guess into another room."""
    return f"{ROOM_PREFIX}{space_id}"


def space_id_from_room(room_name: str) -> str | None:
    if room_name.startswith(ROOM_PREFIX) and len(room_name) > len(ROOM_PREFIX):
        return room_name[len(ROOM_PREFIX) :]
    return None
