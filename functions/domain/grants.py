"""Role + video policy -> what a participant may do in the room. The only source of client grants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from contract import names

from . import pushed
from .model import Role, Space, VideoPolicy

MICROPHONE = "microphone"
CAMERA = "camera"
# Screen video only. Screen-share audio is not granted: the stage's sound is its speakers' voices
# (the spotlight listens to microphones, the broadcast mixes microphones, a moderator's mute mutes
# a microphone), and a shared tab's sound would bypass all three (docs/control-plane.md).
SCREEN_SHARE = "screen_share"


@dataclass(frozen=True)
class Permission:
    """Maps 1:1 onto LiveKit's VideoGrants (token) and ParticipantPermission (live update)."""

    can_publish: bool
    sources: tuple[str, ...]
    # No client publishes data: the SFU fans a participant's data out to everyone in the room,
    # thousands of hidden listeners included, with no rate limit, so a speaker (anyone the host
    # promotes) could flood every connection. Nothing needs it: pages read the stage from the
    # agent's attribute, hands and reactions go through the API.
    can_publish_data: bool
    # Hidden listeners are not announced to the room, so a join or leave in a large audience does
    # not send a participant update to every other participant (listener scale, docs/control-plane.md).
    hidden: bool
    can_subscribe: bool = True
    # Never: the role attribute must stay what the control plane wrote.
    can_update_own_metadata: bool = False


def camera_allowed(role: Role, video: VideoPolicy) -> bool:
    if video is VideoPolicy.HOST:
        return role is Role.HOST
    if video is VideoPolicy.SPEAKERS:
        return role in (Role.HOST, Role.COHOST, Role.SPEAKER)
    return False


def screen_share_allowed(role: Role, video: VideoPolicy) -> bool:
    """The host and co-hosts present; a Space without video (an audio Space, broadcast audio-only)
    has no screen to show either."""
    return role in (Role.HOST, Role.COHOST) and video is not VideoPolicy.OFF


def permission_for(role: Role, video: VideoPolicy) -> Permission:
    if role is Role.LISTENER:
        return Permission(can_publish=False, sources=(), can_publish_data=False, hidden=True)
    sources: tuple[str, ...] = (MICROPHONE, CAMERA) if camera_allowed(role, video) else (MICROPHONE,)
    if screen_share_allowed(role, video):
        sources += (SCREEN_SHARE,)
    return Permission(can_publish=True, sources=sources, can_publish_data=False, hidden=False)


def participant_attributes(role: Role) -> dict[str, str]:
    return {names.ROLE_ATTRIBUTE: role.value}


def issued_attributes(issued_at: datetime) -> dict[str, str]:
    """The token's issue time (names.ISSUED_AT_ATTRIBUTE), exact to the microsecond."""
    return {names.ISSUED_AT_ATTRIBUTE: issued_at.astimezone(UTC).isoformat(timespec="microseconds")}


def issued_at_of(attribute: str | None) -> datetime | None:
    """issued_attributes' time back; None if absent or not one (a token minted before it existed)."""
    if not attribute:
        return None
    try:
        issued = datetime.fromisoformat(attribute)
    except ValueError:
        return None
    return issued if issued.tzinfo is not None else None


def room_metadata(space: Space, *, host_grace: float) -> str:
    """The room metadata (contract/schema/room_metadata.schema.json) every room member reads;
    `host_grace`: seconds an away host has before the Space ends (reconcile Timing.host_grace)."""
    return pushed.room_state(space, host_grace=host_grace).to_json()
