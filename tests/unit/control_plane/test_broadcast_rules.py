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
    agents_for,
    broadcast_of,
    join_mode,
    recording_available_until,
    seat_claim,
    seat_shards,
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


def test_the_free_places_are_split_between_the_seat_shards() -> None:
    assert seat_shards(ON) == 7  # 250 // 32
    users = [f"listener-{n}" for n in range(2_000)]
    for counted in (0, 100, 243, 249):
        claims = [seat_claim(u, listener_count=counted, policy=ON, now=T0) for u in users]
        by_shard = {c.shard: c.capacity for c in claims if c is not None}
        assert sum(by_shard.values()) == 250 - counted  # every free place is in exactly one shard
        assert max(by_shard.values()) - min(by_shard.values()) <= 1
        # Near the limit a shard with no place left sends its users to the broadcast.
        assert any(c is None for c in claims) == (250 - counted < 7)
    # A user always claims in the same shard; the bucket is the 5 s slice of the clock.
    again = seat_claim("listener-1", listener_count=3, policy=ON, now=T0 + timedelta(seconds=12))
    first = seat_claim("listener-1", listener_count=0, policy=ON, now=T0)
    assert first is not None and again is not None and first.shard == again.shard
    assert again.bucket - first.bucket == 12 // SEAT_BUCKET_SECONDS


@pytest.mark.parametrize("limit", [1, 3, 63])
def test_a_small_limit_has_one_shard_holding_every_free_place(limit: int) -> None:
    policy = BroadcastPolicy(
        base_url="https://cdn.example/b", webrtc_listener_limit=limit, retention=ON.retention
    )
    assert seat_shards(policy) == 1
    claim = seat_claim("anyone", listener_count=0, policy=policy, now=T0)
    assert claim is not None and claim.shard == 0 and claim.capacity == limit
    assert seat_claim("anyone", listener_count=limit, policy=policy, now=T0) is None


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
