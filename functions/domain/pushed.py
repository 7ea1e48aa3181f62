"""What the control plane pushes to viewers instead of answering polls. Pure: Space in, documents out.

- Room metadata (contract/schema/room_metadata.schema.json): the Space as every room member sees
  it (state, roles, title, pin, video policy, whether it is recorded, the stage's display names, a
  rounded listener count: the WebRTC audience plus the HLS viewers' estimate, and the version). The composer
  copies the same document to state.json beside the broadcast playlist for HLS viewers.
- Raised hands (contract/schema/hands.schema.json): for moderators only, as a data message whose
  destination identities are the host and co-hosts.

When they are published (coalesced, rate-limited) is the publisher's business, not this module's.
"""

from __future__ import annotations

from contract.hands import RaisedHands
from contract.room_metadata import RoomMetadata

from . import viewers
from .model import Space, SpaceState
from .people import hand_people, stage_names, stage_pictures

# Below this the count is exact: a small room notices every person.
EXACT_LISTENERS_BELOW = 100


def rounded_listener_count(count: int) -> int:
    """Exact below 100, then rounded down to two significant digits (1,234 -> 1,200; 56,789 -> 56,000).

    A join or leave in a large audience then rarely changes the document, so it does not make the
    control plane push a metadata update to every viewer; the error is below 10 %.
    """
    if count < EXACT_LISTENERS_BELOW:
        return max(count, 0)
    step: int = 10 ** (len(str(count)) - 2)
    return count - count % step


def host_away_until_ms(space: Space, *, host_grace: float) -> int | None:
    """When a live Space whose host is out of the room ends unless they come back (epoch ms); None
    while the host is there. Precise to one reconciler pass (docs/control-plane.md, "The host")."""
    away = space.host_away_since
    if space.state is not SpaceState.LIVE or away is None:
        return None
    return round((away.timestamp() + host_grace) * 1000)


def room_state(space: Space, *, host_grace: float) -> RoomMetadata:
    """The room metadata document for this Space; `host_grace`: seconds an away host has."""
    return RoomMetadata(
        space_id=space.id,
        video=space.video.value,
        record=space.record,
        pinned=space.pinned,
        pinned_source=space.pinned_source.value,
        title=space.title,
        state=space.state.value,
        host=space.host,
        cohosts=space.cohosts,
        speakers=space.speakers,
        names=stage_names(space),
        pictures=stage_pictures(space),
        listener_count=rounded_listener_count(space.audience_count),
        version=space.version,
        host_away_until=host_away_until_ms(space, host_grace=host_grace),
        removed_viewers=viewers.latest(space.removed_viewers),
        invited=invited_tags(space),
    )


def invited_tags(space: Space) -> dict[str, int]:
    """A live Space's invitations to speak as the public documents carry them: by the invitee's
    viewer tag, with when each lapses (epoch ms). A lapsed one stays until the next invitation,
    answer or role change drops it: the page compares the time with the API's clock as it estimates
    it, and the API refuses a late answer."""
    if space.state is not SpaceState.LIVE:
        return {}
    return {
        invitation.tag: round(invitation.until.timestamp() * 1000) for invitation in space.invited.values()
    }


def raised_hands(space: Space, read_at_ms: int) -> RaisedHands:
    """The hands message (moderators only), versioned by when the hands were read from the store.

    Hands are items of their own: raising one does not bump the Space's version, so that version
    cannot order two hands messages. The read time can: a later (strongly consistent) read sees at
    least what an earlier one saw, whichever of two concurrent passes sends first.
    """
    names, pictures = hand_people(space)
    return RaisedHands(
        space_id=space.id, version=read_at_ms, hands=space.raised_hands, names=names, pictures=pictures
    )


def moderators(space: Space) -> tuple[str, ...]:
    """Who receives the hands message: the host and the co-hosts."""
    return (space.host, *space.cohosts)
