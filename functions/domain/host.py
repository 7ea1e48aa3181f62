"""The host: handing the Space to a co-host, and ending a Space whose host has been gone too long.

Pure functions over a Space, like stage.py: each returns the new Space (the same object when
nothing changes) or raises a DomainError naming the rule. docs/control-plane.md, "The host".
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .errors import Conflict, Forbidden
from .lifecycle import ended
from .model import Space, SpaceState


def authorize_hand_over(space: Space, *, actor: str) -> None:
    """Decided by the Space's own fields (store.get_own), before anything else is read."""
    if actor != space.host:
        raise Forbidden("only_host_hands_over", "only the host can hand the Space over")


def check_hand_over(space: Space, *, actor: str, target: str) -> None:
    """Every rule of a hand-over but the target's presence, which is the SFU's to tell: checked on
    the Space's own fields before the SFU is asked (a refused request costs it nothing)."""
    if space.state is SpaceState.ENDED:
        raise Conflict("space_ended", "the Space has ended")
    authorize_hand_over(space, actor=actor)
    if target == space.host:
        raise Conflict("already_host", "you are already the host")
    if target not in space.cohosts:
        raise Conflict("not_a_cohost", f"{target} is not a co-host of this Space; make them a co-host first")
    if target not in space.names:
        raise Conflict(
            "cohost_not_joined",
            f"{target} has not joined this Space: it is handed only to a co-host who has"
            " (a scheduled Space once it is live and they have joined it)",
        )


def hand_over(space: Space, *, actor: str, target: str, present: bool) -> Space:
    """The host hands the Space to one of its co-hosts who has joined it and, while it is live, is
    in its room now (`present`); the old host stays on as a co-host (so the number of co-hosts does
    not change and no limit can refuse it).

    Joined: the Space knows them by name, which only their own acts give it (a join token for this
    Space, a hand raised in it, a place in its audience: docs/identity.md). Anyone can be made a
    co-host without being asked, so without this a host could make anyone, never there, the host of
    Spaces they never came to, shown as theirs in the lobby and counted against their own quotas:
    20 scheduled Spaces handed to a stranger left them unable to create one. Joined once is not
    enough while the Space is live: a co-host who left would be handed a Space whose grace period
    starts at once."""
    check_hand_over(space, actor=actor, target=target)
    if space.state is SpaceState.LIVE and not present:
        # Handed to someone away, the Space would start its grace period in the same request's
        # reconciler pass and end unless they came back: an answer of "done" that ends the Space.
        raise Conflict(
            "cohost_not_present",
            f"{target} is not in the Space now: it is handed over only to a co-host who is here",
        )
    cohosts = tuple(space.host if u == target else u for u in space.cohosts)
    # Present when asked, they may leave before the reconciler's pass: that pass observes them (and
    # starts the grace period if they are gone).
    return space.replace(host=target, cohosts=cohosts, host_away_since=None)


def host_left(space: Space, *, user: str, now: datetime) -> Space:
    """The SFU says `user` left the room: if that is the host of a live Space, the grace period
    starts (unless it already runs: the earliest known departure counts)."""
    if space.state is not SpaceState.LIVE or user != space.host or space.host_away_since is not None:
        return space
    return space.replace(host_away_since=now)


def host_back(space: Space, *, user: str) -> Space:
    """The host is (again) in the room: the grace period is over, the Space carries on."""
    if user != space.host or space.host_away_since is None:
        return space
    return space.replace(host_away_since=None)


def host_gone_too_long(space: Space, *, now: datetime, grace: timedelta) -> bool:
    away = space.host_away_since
    return space.state is SpaceState.LIVE and away is not None and now - away >= grace


def abandoned(space: Space, *, now: datetime, grace: timedelta) -> Space:
    """End a live Space whose host has been away for at least `grace`. Checked again on the latest
    stored state, so a host who came back meanwhile keeps the Space live. Idempotent."""
    if not host_gone_too_long(space, now=now, grace=grace):
        return space
    return ended(space, now)
