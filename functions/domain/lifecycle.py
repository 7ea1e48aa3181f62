"""The Space state machine: scheduled -> live -> ended (and scheduled -> ended when cancelled)."""

from __future__ import annotations

from datetime import datetime, timedelta

from .errors import Conflict, Forbidden
from .model import Space, SpaceState, VideoPolicy, VideoSource


def authorize_hosting(groups: frozenset[str], *, host_group: str | None) -> None:
    """Who may create a Space: anyone signed in, or with `host_group` set (SPACES_HOST_GROUP), its
    members only. Each live Space holds a room, a stage agent and a composer slot (about 20 in the
    default cloud stack), so a public deployment with open sign-up names who may hold them."""
    if host_group is not None and host_group not in groups:
        raise Forbidden(
            "hosting_not_allowed",
            f"only members of the group {host_group!r} may create Spaces here: ask this deployment's"
            " operators to add you",
        )


def new_space(
    *,
    space_id: str,
    title: str,
    host: str,
    video: VideoPolicy,
    now: datetime,
    scheduled_start: datetime | None,
    record: bool = True,
) -> Space:
    return Space(
        id=space_id,
        title=title,
        host=host,
        video=video,
        created_at=now,
        scheduled_start=scheduled_start,
        record=record,
    )


# How long past its planned start (or, planned for no time, past its creation) a scheduled Space
# stays in discovery. Starts are not refused for being in the past (any RFC 3339 date from 1971 is
# accepted, and a host may start late), but a Space a day late that nobody started is no longer
# something to offer the lobby: it stays readable by id and startable by its host.
SCHEDULE_GRACE = timedelta(hours=24)


def listed_since(now: datetime) -> datetime:
    """The earliest planned start (creation, for a Space without one) discovery still lists."""
    return now - SCHEDULE_GRACE


def authorize_start(space: Space, *, actor: str) -> None:
    """Decided by the Space's own fields (store.get_own), before anything else is read."""
    if actor != space.host:
        raise Forbidden("only_host_starts", "only the host can start the Space")


def authorize_end(space: Space, *, actor: str) -> None:
    if actor != space.host:
        raise Forbidden("only_host_ends", "only the host can end the Space")


def start(space: Space, *, actor: str, now: datetime) -> Space:
    """The live-Space quota per host (Limits.max_live_per_host) spans Spaces: the store holds it."""
    authorize_start(space, actor=actor)
    if space.state is not SpaceState.SCHEDULED:
        raise Conflict("space_not_scheduled", f"the Space is {space.state}; only a scheduled Space starts")
    return space.replace(state=SpaceState.LIVE, started_at=now)


def end(space: Space, *, actor: str, now: datetime) -> Space:
    authorize_end(space, actor=actor)
    if space.state is SpaceState.ENDED:
        raise Conflict("space_ended", "the Space has already ended")
    return ended(space, now)


def room_closed(space: Space, *, now: datetime) -> Space:
    """The SFU closed the room (empty timeout, deleted elsewhere): the Space is over. Idempotent."""
    if space.state is not SpaceState.LIVE:
        return space
    return ended(space, now)


def ended(space: Space, now: datetime) -> Space:
    """The end of a Space, whatever ended it (no rule checked here)."""
    return space.replace(
        state=SpaceState.ENDED,
        ended_at=now,
        raised_hands=(),
        invited={},
        pinned=None,
        pinned_source=VideoSource.CAMERA,
    )


def require_live(space: Space) -> None:
    if space.state is not SpaceState.LIVE:
        raise Conflict("space_not_live", f"the Space is {space.state}, not live")


def require_not_blocked(space: Space, user: str) -> None:
    """A user a host blocked takes no part in the Space: no token, hand, reaction or heartbeat."""
    if user in space.blocked:
        raise Forbidden("blocked", "you were blocked from this Space")
