"""Request and response models, one per use. Store records never leave the API as they are."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
)

from contract.names import BROADCAST_LIVE_WINDOW_SEGMENTS

from ..domain import broadcast, model, people, pushed, stage
from ..domain.broadcast import BroadcastPolicy
from ..domain.model import Limits, Space, SpaceState
from ..domain.text import FORMAT, SHOWS_NOTHING, char_class, one_line

USER_ID_PATTERN = model.USER_ID_PATTERN
SPACE_ID_PATTERN = r"^[0-9a-f]{32}$"
# Scheduled starts are stored as UTC timestamps; a year outside this range cannot be converted
# (0001-01-01T00:00+14:00 is before year 1 in UTC) and is no plausible schedule anyway.
SCHEDULE_YEARS = (1970, 9998)
# What the schema promises for `scheduled_start`, enforced as written: an RFC 3339 date-time with
# an offset whose own year is 1971-9997, so that in UTC (offsets are under a day) it is always
# within SCHEDULE_YEARS. Anything else is a 422, never an accepted or a surprising value.
SCHEDULE_PATTERN = (
    r"^(197[1-9]|19[89][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-7])"
    r"-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_schedule = re.compile(SCHEDULE_PATTERN)


def rfc3339_text(value: object) -> object:
    """Before a date-time is parsed: only text the SCHEDULE_PATTERN admits (None passes)."""
    if value is None or (isinstance(value, str) and _schedule.match(value)):
        return value
    raise ValueError("must be an RFC 3339 date-time with an offset, years 1971-9997 as written")


UserId = Annotated[str, StringConstraints(pattern=USER_ID_PATTERN)]
# A title needs one character that shows something (text.shows_something: not whitespace, a
# control, a format character, a joiner, a variation selector or a filler). The pattern is that
# check (pydantic applies it, the schema publishes it): it names the set code point by code point,
# so regex engines cannot disagree about it (ECMA, Rust and Python each read `\s` differently).
# The title is stored as one line without controls and format characters (tag characters' hidden
# text included; a subdivision flag keeps its tags), so what the pattern accepts always leaves
# something to show (in the lobby, the page and the broadcast video). A JSON Schema consumer must
# compile the pattern with ECMAScript's `u` flag (as JSON Schema validators do): it names
# characters beyond the BMP, which without it are surrogate pairs.
TITLE_PATTERN = "[^" + char_class(SHOWS_NOTHING) + "]"


def _clean_title(raw: str) -> str:
    return one_line(raw, drop=FORMAT)


Title = Annotated[
    str,
    StringConstraints(max_length=120, pattern=TITLE_PATTERN),
    AfterValidator(_clean_title),
]


class _Input(BaseModel):
    # An unknown field is a client mistake worth a 422 (e.g. trying to set `host`).
    model_config = ConfigDict(extra="forbid")


class SpaceCreate(_Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"title": "Friday design review", "video": "speakers"}]},
    )

    title: Title
    video: Literal["off", "host", "speakers"] = "off"
    record: StrictBool = Field(
        default=True,
        description="Keep the broadcast as the Space's recording once it ends (replayable until "
        "`recording_available_until`). False: the audience still gets the live broadcast, no replay is "
        "offered, and the broadcast's files are deleted within about two days of being written. Set at "
        "creation only.",
    )
    scheduled_start: Annotated[
        AwareDatetime | None,
        Field(
            json_schema_extra={"pattern": SCHEDULE_PATTERN},
            description=(
                "RFC 3339 with an offset, e.g. 2027-01-31T18:00:00Z; years 1971-9997 as written (in UTC"
                " that is 1970-12-31 to 9998-01-01); answered and stored in UTC"
            ),
        ),
    ] = None

    @field_validator("scheduled_start", mode="before")
    @classmethod
    def _rfc3339(cls, value: object) -> object:
        return rfc3339_text(value)

    @field_validator("scheduled_start")
    @classmethod
    def _storable(cls, value: datetime | None) -> datetime | None:
        """In UTC, as it is stored and read back: the create's answer says it as every later read
        does (it echoed the offset it was sent with, found from outside)."""
        if value is None:
            return None
        first, last = SCHEDULE_YEARS
        try:
            utc: datetime | None = value.astimezone(UTC)
        except OverflowError:
            utc = None
        if utc is None or not first <= utc.year <= last:
            raise ValueError(f"must be between the years {first} and {last} in UTC")
        return utc


class RoleUpdate(_Input):
    role: Literal["cohost", "speaker", "listener"]
    # The role the caller saw the person in, when the change was meant for that role (an invitation
    # from the audience list): if it has changed since, 409 `role_changed` and nothing changes.
    from_role: Literal["cohost", "speaker", "listener"] | None = None


class HostHandover(_Input):
    # The co-host who becomes the host.
    user_id: UserId


class RemoveRequest(_Input):
    # Strict: a block cannot be undone, so "yes", 1 or "true" must not pass for `true` (422).
    block: StrictBool = False


class SpotlightUpdate(_Input):
    # Required, nullable: null unpins.
    user_id: UserId | None = Field(...)
    # Optional, so clients from before screen sharing keep pinning cameras.
    source: Literal["camera", "screen_share"] = Field(
        "camera",
        description="What of the pinned user the big tile shows: their camera, or their screen share "
        "(host and co-hosts, in a Space with video). Ignored when unpinning.",
    )


class Broadcast(BaseModel):
    """The Space's HLS broadcast: live while the Space is, then its recording until retention ends."""

    playlist_url: str = Field(
        description="Every segment from the start (an EVENT playlist): the recording once the Space has "
        "ended (#EXT-X-ENDLIST)"
    )
    live_playlist_url: str = Field(
        description=f"A sliding window of the last {BROADCAST_LIVE_WINDOW_SEGMENTS} segments of the same "
        "stream: what a live viewer plays (the HLS join answer names it)"
    )
    # The speaker timeline (who held the stage when), JSON written beside the playlist.
    timeline_url: str


class Seats(BaseModel):
    """The stage's seats beside the host's, as this deployment's limits set them: a page offers an
    invitation or a promotion only while one is free (the API refuses it with 409 otherwise)."""

    cohosts: int = Field(description="co-hosts a Space may have at once")
    speakers: int = Field(description="speakers a Space may have at once, co-hosts not counted")


def _from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


class SpacePublic(BaseModel):
    id: str
    title: str
    state: Literal["scheduled", "live", "ended"]
    host: str
    cohosts: list[str]
    speakers: list[str]
    video: Literal["off", "host", "speakers"]
    # Whether the broadcast is kept as a recording once the Space ends (the host's choice at creation).
    record: bool
    # The WebRTC audience (exact) plus, while live, the HLS viewers (an estimate from sampled
    # heartbeats, refreshed once per presence window; docs/control-plane.md "Listener count").
    listener_count: int
    # The queue of raised hands, oldest first, for the host and co-hosts; anyone else sees at most
    # their own hand (stage.as_seen_by). Lists (GET /spaces) carry no hands.
    raised_hands: list[str]
    # id -> display name of the host, co-hosts, speakers and raised hands whose name is known
    # (docs/identity.md); show the id for anyone missing.
    names: dict[str, str]
    # id -> avatar URL (https) of the same people who have one; draw initials for anyone missing.
    pictures: dict[str, str]
    pinned: str | None
    # What of `pinned` the big tile shows; "camera" when nobody is pinned.
    pinned_source: Literal["camera", "screen_share"]
    room_name: str
    created_at: datetime
    scheduled_start: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    # Null when the deployment does not broadcast, before the start, and after retention.
    broadcast: Broadcast | None
    start_signal_url: str | None = Field(
        description="A scheduled Space only (null otherwise, and when the deployment does not broadcast): "
        "the CDN address of the state.json its broadcast writes when the Space goes live (403 or 404 "
        "until then; the room metadata's document). A page waiting for the start reads it instead of "
        "polling the API."
    )
    # Ended Spaces that were broadcast: when the recording stops being offered (kept once past).
    recording_available_until: datetime | None
    # Bumped by every change of the Space's stored fields (roles, pin, title, state).
    version: int
    # Whether the caller is blocked from this Space (a host removed and blocked them: they cannot
    # join it again). Null in lists (GET /spaces), which read no blocks.
    caller_blocked: bool | None
    # While the host of a live Space is out of the room: when it ends unless they are back (the
    # host's grace period, docs/control-plane.md "The host"; precise to one reconciler pass).
    host_away_until: datetime | None
    seats: Seats
    invitations: dict[str, datetime] = Field(
        description="Listeners invited to speak who have not answered yet: id -> when the invitation "
        "lapses. Each holds a speaker seat. The host and co-hosts see all of them; anyone else at most "
        "their own (answer it with POST or DELETE /spaces/{id}/invitation). Empty unless live."
    )
    listener_mode: Literal["webrtc", "hls"] | None = Field(
        description="A live Space: what POST /spaces/{id}/token answers a listener now: `hls` once the "
        "room's WebRTC audience is full (SPACES_WEBRTC_LISTENER_LIMIT), else `webrtc`. Null otherwise. "
        "Reading it changes nothing, where asking for a token takes a seat: a page sent back to the "
        "audience reads it to learn whether to move to the broadcast."
    )

    @classmethod
    def of(
        cls,
        space: Space,
        *,
        policy: BroadcastPolicy,
        now: datetime,
        caller_blocked: bool | None,
        host_grace: float,
        limits: Limits,
    ) -> SpacePublic:
        links = broadcast.broadcast_of(space, policy, now=now)
        mode = broadcast.listener_mode(space, policy)
        hand_names, hand_pictures = people.hand_people(space)
        return cls(
            id=space.id,
            title=space.title,
            state=space.state.value,
            host=space.host,
            cohosts=list(space.cohosts),
            speakers=list(space.speakers),
            video=space.video.value,
            record=space.record,
            listener_count=space.audience_count,
            raised_hands=list(space.raised_hands),
            names={**hand_names, **people.stage_names(space)},
            pictures={**hand_pictures, **people.stage_pictures(space)},
            pinned=space.pinned,
            pinned_source=space.pinned_source.value,
            room_name=space.room_name,
            created_at=space.created_at,
            scheduled_start=space.scheduled_start,
            started_at=space.started_at,
            ended_at=space.ended_at,
            broadcast=(
                Broadcast(
                    playlist_url=links.playlist_url,
                    live_playlist_url=links.live_playlist_url,
                    timeline_url=links.timeline_url,
                )
                if links is not None
                else None
            ),
            start_signal_url=broadcast.start_signal_url(space, policy),
            recording_available_until=broadcast.recording_available_until(space, policy),
            version=space.version,
            caller_blocked=caller_blocked,
            host_away_until=_from_ms(pushed.host_away_until_ms(space, host_grace=host_grace)),
            seats=Seats(cohosts=limits.max_cohosts, speakers=limits.max_speakers),
            invitations=(
                {user: i.until for user, i in stage.pending_invitations(space, now).items()}
                if space.state is SpaceState.LIVE
                else {}
            ),
            listener_mode=None if mode is None else mode.value,
        )


class SpaceChange(SpacePublic):
    """The answer to a write: the stored desired state, and whether the media server already
    follows it. `converged: false` (HTTP 202): accepted, the reconciler is still converging the room
    (it retries until it matches); nothing is undone."""

    converged: bool


class SpacePage(BaseModel):
    items: list[SpacePublic]
    # Pass back as `cursor` for the next page; null on the last page.
    cursor: str | None


class ListenerPublic(BaseModel):
    """A listener as the host's list shows them."""

    user_id: str
    name: str
    picture: str | None
    # Whether they are in the raised-hands queue now.
    hand_raised: bool
    # When they last asked to join (their token request).
    joined_at: datetime
    # Their tag in the room metadata's and state.json's `removed_viewers` (a keyed hash of the
    # Space and the user): a removal by another moderator takes the row off an open list.
    viewer_tag: str


class ListenerPageOut(BaseModel):
    """A page of the audience in name order (case and accents ignored)."""

    items: list[ListenerPublic]
    # Pass back as `cursor` for the next page (with the same `q`); null on the last page.
    next_cursor: str | None


ISSUED_AT = (
    "When this grant was issued (the API's clock). A page that comes back by itself (a reload, a "
    "dropped connection) sends it as `rejoin_since`, so a removal it missed meanwhile is answered."
)


class WebRtcTokenResponse(BaseModel):
    """Join the room: connect to `url` with `token` (a LiveKit join token)."""

    mode: Literal["webrtc"]
    url: str
    token: str
    identity: str
    role: Literal["host", "cohost", "speaker", "listener"]
    issued_at: datetime = Field(description=ISSUED_AT)
    expires_at: datetime
    viewer_tag: str = Field(
        description="This person's tag in the room metadata's `invited` (a keyed hash of the Space and "
        "the user id): an entry for it is an invitation to speak waiting for their answer."
    )


class HlsTokenResponse(BaseModel):
    """Watch the broadcast: the room's WebRTC audience is full. Play `playlist_url` (HLS); raising a
    hand still works, and once promoted the next token request answers `webrtc`."""

    mode: Literal["hls"]
    playlist_url: str
    identity: str
    role: Literal["listener"]
    issued_at: datetime = Field(description=ISSUED_AT)
    # Nothing to expire: the playlist is public like the CDN that serves it.
    expires_at: None
    presence_interval_seconds: int | None = Field(
        description="While the player plays, POST /spaces/{id}/presence every this many seconds, the "
        "first one at a random moment within the first interval; null: this viewer is not sampled "
        "and sends none (the listener count is estimated from a sample of HLS viewers)."
    )
    viewer_tag: str = Field(
        description="This viewer's tag in state.json's `removed_viewers` and `invited` (a keyed hash of "
        "the Space and the user id): an entry in `removed_viewers` later than `issued_at` (epoch "
        "milliseconds) means a host removed this viewer after this grant, and the page stops playing; "
        "one in `invited` is an invitation to speak waiting for their answer."
    )
    presence_tag: str = Field(
        description="What this viewer's presence heartbeats name (`POST /spaces/{id}/presence?"
        "presence_tag=`): only an HLS answer carries it, so a heartbeat shows the API sent the "
        "caller to the broadcast."
    )


TokenResponse = Annotated[WebRtcTokenResponse | HlsTokenResponse, Field(discriminator="mode")]


class Problem(BaseModel):
    """Every 4xx/5xx that is not a validation error: what went wrong and which rule said so."""

    detail: str
    rule: str
