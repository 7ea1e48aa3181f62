"""domain/broadcast.py, pure: the join mode at the threshold, the agents of a Space, its links and
how long its recording is offered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contract import names
from functions.domain.broadcast import (
    SEAT_BUCKET_SECONDS,
    BroadcastPolicy,
    JoinMode,
    SeatClaim,
    agents_for,
    broadcast_of,
    join_mode,
    recording_available_until,
    seat_attributes,
    seat_claim,
    seat_of,
    start_signal_url,
)
from functions.domain.model import Role, Space, SpaceState, VideoPolicy

T0 = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
ON = BroadcastPolicy(
    base_url="https://cdn.example/b", webrtc_listener_limit=250, retention=timedelta(days=30)
)
OFF = BroadcastPolicy(base_url=None, webrtc_listener_limit=250, retention=timedelta(days=30))


def space(state: SpaceState, *, started: bool = True, ended: bool = False) -> Space:
    return Space(
        id="ab" * 16,
        title="t",
        host="h",
        video=VideoPolicy.SPEAKERS,
        created_at=T0,
        state=state,
        started_at=T0 if started else None,
        ended_at=T0 + timedelta(hours=1) if ended else None,
    )


@pytest.mark.parametrize(
    ("count", "mode"),
    [(0, JoinMode.WEBRTC), (249, JoinMode.WEBRTC), (250, JoinMode.HLS), (10**6, JoinMode.HLS)],
)
def test_a_listener_switches_to_hls_at_the_limit(count: int, mode: JoinMode) -> None:
    assert join_mode(Role.LISTENER, listener_count=count, policy=ON) is mode


@pytest.mark.parametrize("role", [Role.HOST, Role.COHOST, Role.SPEAKER])
def test_stage_roles_and_no_broadcast_mean_webrtc(role: Role) -> None:
    assert join_mode(role, listener_count=10**6, policy=ON) is JoinMode.WEBRTC
    assert join_mode(Role.LISTENER, listener_count=10**6, policy=OFF) is JoinMode.WEBRTC


def test_a_seat_is_one_of_the_places_the_count_leaves_free() -> None:
    claim = seat_claim("listener-1", listener_count=240, policy=ON, now=T0)
    assert claim == SeatClaim(
        user="listener-1", bucket=int(T0.timestamp()) // SEAT_BUCKET_SECONDS, capacity=10
    )
    assert seat_claim("listener-1", listener_count=250, policy=ON, now=T0) is None
    later = seat_claim("listener-1", listener_count=0, policy=ON, now=T0 + timedelta(seconds=12))
    assert later is not None and later.bucket - claim.bucket == 12 // SEAT_BUCKET_SECONDS


def test_a_seat_attribute_names_its_bucket_and_nothing_else_reads_as_one() -> None:
    assert seat_of(seat_attributes(357_000_123)[names.SEAT_ATTRIBUTE]) == 357_000_123
    assert seat_attributes(None) == {}
    for bad in (None, "", "0:12", "-3", "²", "1" * 13, " 12"):
        assert seat_of(bad) is None, bad


def test_the_composer_runs_only_when_broadcasting() -> None:
    assert agents_for(ON) == (names.AGENT_NAME, names.COMPOSER_AGENT_NAME)
    assert agents_for(OFF) == (names.AGENT_NAME,)


def test_links_and_retention_by_state() -> None:
    live = broadcast_of(space(SpaceState.LIVE), ON, now=T0)
    assert live is not None and live.playlist_url == f"https://cdn.example/b/{'ab' * 16}/index.m3u8"
    assert live.timeline_url == f"https://cdn.example/b/{'ab' * 16}/timeline.json"
    assert broadcast_of(space(SpaceState.SCHEDULED, started=False), ON, now=T0) is None
    assert broadcast_of(space(SpaceState.LIVE), OFF, now=T0) is None

    ended = space(SpaceState.ENDED, ended=True)
    until = recording_available_until(ended, ON)
    assert until == T0 + timedelta(hours=1) + timedelta(days=30)
    assert broadcast_of(ended, ON, now=until - timedelta(microseconds=1)) == live
    assert broadcast_of(ended, ON, now=until) is None
    assert recording_available_until(ended, OFF) is None
    cancelled = space(SpaceState.ENDED, started=False, ended=True)
    assert recording_available_until(cancelled, ON) is None
    assert broadcast_of(cancelled, ON, now=T0) is None
    assert recording_available_until(space(SpaceState.LIVE), ON) is None


def test_only_a_scheduled_space_has_a_start_signal() -> None:
    """Where the page of a scheduled Space watches for its start: the state.json the composer
    writes at the start, on the CDN, beside where the broadcast will be."""
    scheduled = space(SpaceState.SCHEDULED, started=False)
    assert start_signal_url(scheduled, ON) == f"https://cdn.example/b/{'ab' * 16}/{names.BROADCAST_STATE}"
    assert start_signal_url(scheduled, OFF) is None  # no composer would ever write it
    assert start_signal_url(space(SpaceState.LIVE), ON) is None
    assert start_signal_url(space(SpaceState.ENDED, ended=True), ON) is None
