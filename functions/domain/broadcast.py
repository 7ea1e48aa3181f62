"""The broadcast tier's rules: who joins over WebRTC and who gets the HLS broadcast, which agents a
live Space needs, where its broadcast lives and how long its recording is offered. Pure, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from contract import names

from .errors import Conflict
from .lifecycle import require_not_blocked
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
    # Every segment from the start: the recording once the Space has ended.
    playlist_url: str
    # The last segments only: what a live viewer plays (a playlist that stays small).
    live_playlist_url: str
    timeline_url: str


def links(base_url: str, space_id: str) -> BroadcastLinks:
    folder = f"{base_url}/{space_id}"
    return BroadcastLinks(
        playlist_url=f"{folder}/{names.BROADCAST_PLAYLIST}",
        live_playlist_url=f"{folder}/{names.BROADCAST_LIVE_PLAYLIST}",
        timeline_url=f"{folder}/{names.BROADCAST_TIMELINE}",
    )


def join_mode(role: Role, *, listener_count: int, policy: BroadcastPolicy) -> JoinMode:
    """Stage roles always join the room (they publish); a listener gets the broadcast once the
    room's WebRTC audience (the stored count, kept by webhooks) has reached the limit. Below it, a
    listener still needs a seat (seat_claim): the count does not see tokens whose join has not
    been counted yet."""
    if role is not Role.LISTENER or not policy.enabled:
        return JoinMode.WEBRTC
    return JoinMode.HLS if listener_count >= policy.webrtc_listener_limit else JoinMode.WEBRTC


# Seats: the WebRTC listener tokens handed out and not counted yet. A token's holder connects within
# a few seconds, and its participant_joined webhook comes right after; until then, only the seat
# stands between a burst of token requests and a room far past the limit (10,000 clicks on a shared
# link within a second would all have read a count of 0). The token names its seat
# (names.SEAT_ATTRIBUTE: the bucket it was taken in) and the join's webhook frees it as it counts the
# listener, so nobody counts twice. A seat whose join never comes counts in the bucket it was taken
# in and the next one, so for 5-10 s (a token not used, or a client that took longer to connect).
# One user holds at most one seat at a time: asking again reuses it.
SEAT_BUCKET_SECONDS: Final = 5
_SEAT_PATTERN: Final = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True, kw_only=True)
class SeatClaim:
    """`user`'s claim on a WebRTC seat, taken in `bucket` (and counted with the bucket before it);
    granted while the Space holds fewer than `capacity` seats in both."""

    user: str
    bucket: int
    capacity: int


def seat_claim(user: str, *, listener_count: int, policy: BroadcastPolicy, now: datetime) -> SeatClaim | None:
    """The seat a listener's WebRTC token needs: one of the places the count leaves free (limit -
    counted listeners), or None when it leaves none (they get the broadcast)."""
    free = policy.webrtc_listener_limit - max(listener_count, 0)
    if free <= 0:
        return None
    return SeatClaim(user=user, bucket=int(now.timestamp()) // SEAT_BUCKET_SECONDS, capacity=free)


def seat_attributes(bucket: int | None) -> dict[str, str]:
    """The participant attribute that names a listener's seat (none without one)."""
    return {names.SEAT_ATTRIBUTE: str(bucket)} if bucket is not None else {}


def seat_of(value: str | None) -> int | None:
    """The bucket a seat attribute names, or None when it is absent or not one."""
    return int(value) if value and _SEAT_PATTERN.fullmatch(value) else None


def check_heartbeat(space: Space, *, user: str, sampled: bool) -> None:
    """Whether `user` may count as an HLS viewer of `space` now (domain/presence.py). Raises the
    rule that refuses it: the heartbeat then changes nothing."""
    if space.state is not SpaceState.LIVE:
        raise Conflict("space_not_live", f"the Space is {space.state.value}: nobody is watching it")
    require_not_blocked(space, user)
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
    """End + retention for an ended Space that was live while broadcasting was on and whose host
    kept its recording (Space.record); else None. Kept after it has passed, so a client can say
    when the recording expired."""
    if not policy.enabled or not space.record or space.state is not SpaceState.ENDED:
        return None
    if space.started_at is None or space.ended_at is None:  # cancelled before it went live
        return None
    return space.ended_at + policy.retention


def listener_mode(space: Space, policy: BroadcastPolicy) -> JoinMode | None:
    """What a listener's token would be now in a live Space (join_mode, without the seat a token
    takes), or None when the Space is not live."""
    if space.state is not SpaceState.LIVE:
        return None
    return join_mode(Role.LISTENER, listener_count=space.listener_count, policy=policy)


def start_signal_url(space: Space, policy: BroadcastPolicy) -> str | None:
    """Where a scheduled Space's start first shows without the API: its broadcast's state.json,
    which the composer writes when the Space goes live (the CDN answers 403/404 until then). A page
    waiting on the Space's link reads it instead of polling the API (web/src/start_watch.ts). None
    for any other state, and when broadcasting is off (no composer writes it)."""
    if policy.base_url is None or space.state is not SpaceState.SCHEDULED:
        return None
    return f"{policy.base_url}/{space.id}/{names.BROADCAST_STATE}"


def broadcast_of(space: Space, policy: BroadcastPolicy, *, now: datetime) -> BroadcastLinks | None:
    """The broadcast of a live Space, or the recording of an ended one within retention. None for a
    scheduled Space (nothing is written before the start), for an ended one whose host kept no
    recording, and when broadcasting is off."""
    if policy.base_url is None or space.state is SpaceState.SCHEDULED:
        return None
    if space.state is SpaceState.ENDED:
        until = recording_available_until(space, policy)
        if until is None or now >= until:
            return None
    return links(policy.base_url, space.id)
