"""The broadcast tier's rules: who joins over WebRTC and who gets the HLS broadcast, which agents a
live Space needs, where its broadcast lives and how long its recording is offered. Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from contract import names

from .errors import Conflict, Forbidden
from .model import Role, Space, SpaceState


class JoinMode(StrEnum):
    WEBRTC = "webrtc"
    HLS = "hls"


@dataclass(frozen=True, kw_only=True)
class BroadcastPolicy:
    # Public base URL of the broadcasts (no trailing slash); None: the deployment does not broadcast,
    # so everyone joins over WebRTC and no composer is dispatched.
    base_url: str | None
    # Listeners joining while the room holds this many WebRTC listeners get the broadcast instead.
    webrtc_listener_limit: int
    # How long after its end a Space's recording (the closed broadcast) is offered.
    retention: timedelta

    @property
    def enabled(self) -> bool:
        return self.base_url is not None


@dataclass(frozen=True)
class BroadcastLinks:
    playlist_url: str
    timeline_url: str


def links(base_url: str, space_id: str) -> BroadcastLinks:
    folder = f"{base_url}/{space_id}"
    return BroadcastLinks(
        playlist_url=f"{folder}/{names.BROADCAST_PLAYLIST}",
        timeline_url=f"{folder}/{names.BROADCAST_TIMELINE}",
    )


def join_mode(role: Role, *, listener_count: int, policy: BroadcastPolicy) -> JoinMode:
    """Stage roles always join the room (they publish); a listener gets the broadcast once the
    room's WebRTC audience (the stored count, kept by webhooks) has reached the limit."""
    if role is not Role.LISTENER or not policy.enabled:
        return JoinMode.WEBRTC
    return JoinMode.HLS if listener_count >= policy.webrtc_listener_limit else JoinMode.WEBRTC


def check_heartbeat(space: Space, *, user: str, sampled: bool) -> None:
    """Whether `user` may count as an HLS viewer of `space` now (domain/presence.py). Raises the
    rule that refuses it: the heartbeat then changes nothing."""
    if space.state is not SpaceState.LIVE:
        raise Conflict("space_not_live", f"the Space is {space.state.value}: nobody is watching it")
    if user in space.blocked:
        raise Forbidden("blocked", "you were blocked from this Space")
    if space.on_stage(user):
        raise Conflict("presence_on_stage", "stage members are in the room and counted there")
    if not sampled:
        # Counting someone outside the sample would inflate the estimate (each counts as 1/rate).
        raise Conflict(
            "presence_not_sampled", "this viewer is not in the heartbeat sample: the join answer said null"
        )


def agents_for(policy: BroadcastPolicy) -> tuple[str, ...]:
    """The agents every live Space runs: the stage agent, and the composer when broadcasting."""
    if policy.enabled:
        return (names.AGENT_NAME, names.COMPOSER_AGENT_NAME)
    return (names.AGENT_NAME,)


def recording_available_until(space: Space, policy: BroadcastPolicy) -> datetime | None:
    """End + retention for an ended Space that was live while broadcasting was on; else None.
    Kept after it has passed, so a client can say when the recording expired."""
    if not policy.enabled or space.state is not SpaceState.ENDED:
        return None
    if space.started_at is None or space.ended_at is None:  # cancelled before it went live
        return None
    return space.ended_at + policy.retention


def broadcast_of(space: Space, policy: BroadcastPolicy, *, now: datetime) -> BroadcastLinks | None:
    """The broadcast of a live Space, or the recording of an ended one within retention. None for a
    scheduled Space (nothing is written before the start) and when broadcasting is off."""
    if policy.base_url is None or space.state is SpaceState.SCHEDULED:
        return None
    if space.state is SpaceState.ENDED:
        until = recording_available_until(space, policy)
        if until is None or now >= until:
            return None
    return links(policy.base_url, space.id)
