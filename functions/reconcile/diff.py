"""Desired state (the stored Space) + observed state (the SFU's room) -> the actions that make them
match. Pure: no I/O, no clock of its own (`now` is given). docs/control-plane.md, "The reconciler".

What the desired state of a Space says about its room:
- scheduled: no room (nothing to do).
- live: a room with the Space's metadata; every connected person holds exactly the grants of their
  stored role (role attribute and permission), a blocked user is not connected, and each agent the
  Space runs (the stage agent, the composer when broadcasting) is present or was dispatched
  moments ago.
- ended: no room.
A room that the SFU lists but no node holds any more (its node died) is placed again first, for a
live or an ended Space: until then nothing in it can be read or changed, not even deleted.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain import grants, model
from ..domain.grants import Permission
from ..domain.model import Role, Space, SpaceState
from ..livekit_edge.gateway import (
    ObservedMember,
    ObservedParticipant,
    ObservedRoom,
    StrandedRoom,
    live_hidden,
)


@dataclass(frozen=True)
class Timing:
    # Seconds a dispatch may take to become an agent in the room before it counts as lost (a worker
    # takes a job within ~1-2 s; the SFU drops a dispatch that no worker accepts).
    dispatch_grace: float = 20.0
    # Seconds after its start during which a live Space whose room is missing gets one created (the
    # start's own pass failed); later, a missing room means the SFU closed it (a room_finished
    # webhook that was lost) and the Space ends.
    room_create_grace: float = 120.0
    # Seconds the host may be out of the room of a live Space before it ends (settings:
    # SPACES_HOST_GRACE_SECONDS; docs/control-plane.md, "The host").
    host_grace: float = 120.0
    # Seconds after the start before a host missing from the room counts as away: the host's page
    # connects right after starting the Space, and the start's own pass must not store an absence
    # (and publish the metadata twice) for the seconds that takes. A host who never comes has this
    # plus the grace period.
    host_join_window: float = 30.0


@dataclass(frozen=True)
class CreateRoom:
    agents: tuple[str, ...]
    # The room metadata it starts with (the same document SetMetadata would publish).
    metadata: str


@dataclass(frozen=True)
class DeleteRoom:
    pass


@dataclass(frozen=True)
class PlaceRoom:
    """The room's node is gone: create the room again, which puts it on a live node (empty: its
    people rejoin, their clients retry on their own) with the Space's metadata and agents."""

    agents: tuple[str, ...]
    reason: str
    metadata: str


@dataclass(frozen=True)
class EndSpace:
    """The room is gone for good: store the end (what a lost room_finished webhook would have done)."""


@dataclass(frozen=True)
class HostAway:
    """The host is not in the room and no departure is stored (its participant_left webhook was
    lost, or the host never came): the grace period starts now."""

    since: float


@dataclass(frozen=True)
class HostBack:
    """The host is in the room again (its participant_joined webhook may never come)."""


@dataclass(frozen=True)
class EndAbandoned:
    """The host has been away longer than the grace period: end the Space (the next round deletes
    the room, which disconnects everyone)."""


@dataclass(frozen=True)
class SetMetadata:
    metadata: str


@dataclass(frozen=True)
class UpdateParticipant:
    identity: str
    role: Role
    permission: Permission
    # The audience (listener count) changes when someone moves between listener and stage live,
    # with no join or leave webhook: -1, 0 or +1, applied once under `count_key`.
    listener_delta: int
    count_key: str


@dataclass(frozen=True)
class RemoveParticipant:
    identity: str
    reason: str


@dataclass(frozen=True)
class Dispatch:
    agent_name: str


Action = (
    CreateRoom
    | DeleteRoom
    | PlaceRoom
    | EndSpace
    | HostAway
    | HostBack
    | EndAbandoned
    | SetMetadata
    | UpdateParticipant
    | RemoveParticipant
    | Dispatch
)


def diff(
    space: Space,
    room: ObservedRoom | StrandedRoom | None,
    *,
    agents: tuple[str, ...],
    now: float,
    evict: frozenset[str] = frozenset(),
    timing: Timing | None = None,
) -> list[Action]:
    """What to do so that `room` matches `space`. An empty list: converged.

    `agents`: the agent names every live Space runs. `evict`: people to disconnect once (a removal
    without a block; they may rejoin as listeners). `now`: epoch seconds."""
    timing = timing or Timing()
    if space.state is SpaceState.SCHEDULED:
        return []
    if isinstance(room, StrandedRoom):
        # Even an ended Space's room: deleting it is asked of the node that holds it. Its agents are
        # not asked for, but livekit-server keeps a room's stored dispatches when a request names
        # none, so they may start for the moments before the next round deletes the room.
        live = space.state is SpaceState.LIVE
        return [PlaceRoom(agents if live else (), room.reason, wanted_metadata(space, timing))]
    if space.state is SpaceState.ENDED:
        return [] if room is None else [DeleteRoom()]
    if room is None:
        started = space.started_at.timestamp() if space.started_at else now
        if now - started > timing.room_create_grace:
            return [EndSpace()]
        return [CreateRoom(agents, wanted_metadata(space, timing))]

    actions: list[Action] = []
    host_action = host_presence(space, room, now=now, timing=timing)
    if isinstance(host_action, EndAbandoned):
        return [host_action]
    if host_action is not None:
        actions.append(host_action)
    wanted = wanted_metadata(space, timing)
    if room.metadata != wanted:
        actions.append(SetMetadata(wanted))
    for p in room.participants:
        if p.is_agent:
            continue
        action = participant_action(space, p, evict=evict)
        if action is not None:
            actions.append(action)
    actions.extend(Dispatch(name) for name in missing_agents(room, agents, now=now, timing=timing))
    return actions


def audience_diff(space: Space, member: ObservedMember, *, timing: Timing) -> list[Action]:
    """What a listener's join or leave asks of a live Space's room, read without listing it: the
    room metadata (the listener count is in it) and that one person's grants or removal. The host's
    presence and the agents are the full diff's (after writes, on other webhooks, on the patrol)."""
    if space.state is not SpaceState.LIVE:
        return []
    actions: list[Action] = []
    wanted = wanted_metadata(space, timing)
    if member.metadata != wanted:
        actions.append(SetMetadata(wanted))
    p = member.participant
    if p is not None and not p.is_agent:
        action = participant_action(space, p)
        if action is not None:
            actions.append(action)
    return actions


def listener_drift(space: Space, room: ObservedRoom) -> int:
    """Listeners connected to the room (by their role attribute) minus the stored WebRTC count."""
    connected = sum(1 for p in room.participants if not p.is_agent and p.role == Role.LISTENER.value)
    return connected - space.listener_count


def host_presence(
    space: Space, room: ObservedRoom, *, now: float, timing: Timing
) -> HostAway | HostBack | EndAbandoned | None:
    """The stored host presence against the room: level-triggered, so a lost webhook (either way)
    is repaired, and the grace period is enforced even when no webhook comes at all."""
    present = any(p.identity == space.host and not p.is_agent for p in room.participants)
    away = space.host_away_since
    if present:
        return HostBack() if away is not None else None
    if away is None:
        started = space.started_at.timestamp() if space.started_at else now
        return HostAway(since=now) if now - started >= timing.host_join_window else None
    return EndAbandoned() if now - away.timestamp() >= timing.host_grace else None


def wanted_metadata(space: Space, timing: Timing) -> str:
    """The room metadata `space` wants, with the grace period this reconciler enforces in it."""
    return grants.room_metadata(space, host_grace=timing.host_grace)


def participant_action(
    space: Space, p: ObservedParticipant, *, evict: frozenset[str] = frozenset()
) -> UpdateParticipant | RemoveParticipant | None:
    if not p.is_agent and not model.is_user_id(p.identity):
        # No token the API issues names such an identity: a session the SFU derived from a real
        # token, as upstream livekit-server's `publish=<x>` second session (`<identity>#<x>`, which
        # the stack's build refuses: scripts/livekit_hardening.py) is. It would be nobody's to
        # block or remove, and a blocked speaker's old token came back that way.
        return RemoveParticipant(p.identity, "not_a_user")
    if p.identity in space.blocked:
        return RemoveParticipant(p.identity, "blocked")
    if p.identity in evict:
        return RemoveParticipant(p.identity, "removed")
    if p.mislabelled_tracks and not p.is_agent:
        # Nothing but removal stops a publication the SFU accepted: a mute can be undone by the
        # publisher, and the grants already refuse what the label hides. They may join again.
        return RemoveParticipant(p.identity, "mislabelled_track")
    role = space.role_of(p.identity)
    wanted = grants.permission_for(role, space.video)
    if p.role == role.value and p.permission is not None and same_grants(p.permission, wanted):
        return None
    was_listener = p.role == Role.LISTENER.value
    is_listener = role is Role.LISTENER
    delta = 0 if was_listener == is_listener else (1 if is_listener else -1)
    # One key per transition of one session from one state of it (the SFU's participant version):
    # passes that see the same stale participant count it once, whatever version of the Space each
    # read (concurrent passes of two writes in two processes, a webhook delivered three times); the
    # same move made again later starts from a later state of theirs.
    key = f"role:{space.id}:{p.sid}:{p.role}->{role.value}:p{p.version}"
    return UpdateParticipant(p.identity, role, wanted, listener_delta=delta, count_key=key)


def same_grants(observed: Permission, wanted: Permission) -> bool:
    """Whether a connected participant already has what their role grants. A visible participant
    is never hidden live (gateway.live_hidden), so a demoted speaker who stays visible matches."""
    return (
        observed.can_publish == wanted.can_publish
        and set(observed.sources) == set(wanted.sources)
        and observed.can_publish_data == wanted.can_publish_data
        and observed.can_subscribe == wanted.can_subscribe
        and observed.can_update_own_metadata == wanted.can_update_own_metadata
        and observed.hidden == live_hidden(wanted=wanted.hidden, now=observed.hidden)
    )


def missing_agents(room: ObservedRoom, agents: tuple[str, ...], *, now: float, timing: Timing) -> list[str]:
    """Agents the Space runs that are neither in the room nor recently dispatched (whatever the
    reason: never came, crashed, dispatch dropped because no worker was registered)."""
    present = {p.agent_name for p in room.participants if p.is_agent}
    pending = {d.agent_name for d in room.dispatches if now - d.created_at < timing.dispatch_grace}
    return [name for name in agents if name not in present and name not in pending]
