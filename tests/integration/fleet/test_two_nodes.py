"""The fleet's livekit.yaml boots the real livekit-server, and two nodes sharing one Redis serve one
room: a participant on node A and one on node B hear each other (nodes.py has the config)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from livekit import api as lkapi
from livekit import rtc

from devstack.livekit import LiveKitServer
from tests.support.eventually import eventually, eventually_async

from . import nodes as fleet_nodes
from . import redis_tls

SAMPLE_RATE = 48_000
FRAME_SAMPLES = SAMPLE_RATE // 100  # 10 ms


@dataclass
class Fleet:
    redis: redis_tls.LocalRedis
    a: LiveKitServer
    b: LiveKitServer


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    redis = redis_tls.start(Path(tmp_path_factory.mktemp("redis")))
    nodes: list[LiveKitServer] = []
    try:
        nodes.append(fleet_nodes.start("livekit-a", redis, 41000))
        nodes.append(fleet_nodes.start("livekit-b", redis, 41000 + fleet_nodes.PORT_RANGE_SIZE))
        yield Fleet(redis=redis, a=nodes[0], b=nodes[1])
    finally:
        for node in nodes:
            node.process.kill()  # no drain wait in a test: the rooms are gone with the test
            node.config_path.unlink(missing_ok=True)
        redis.stop()


def _token(room: str, identity: str) -> str:
    grants = lkapi.VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=True)
    token = lkapi.AccessToken(fleet_nodes.API_KEY, fleet_nodes.API_SECRET)
    return token.with_identity(identity).with_grants(grants).to_jwt()


def _tone(t0: int, frequency: float = 440.0) -> rtc.AudioFrame:
    frame = rtc.AudioFrame.create(SAMPLE_RATE, 1, FRAME_SAMPLES)
    n = np.arange(t0, t0 + FRAME_SAMPLES)
    samples = (0.5 * 32767 * np.sin(2 * math.pi * frequency * n / SAMPLE_RATE)).astype(np.int16)
    np.frombuffer(frame.data, dtype=np.int16)[:] = samples
    return frame


async def _speak(source: rtc.AudioSource, stop: asyncio.Event) -> None:
    t = 0
    while not stop.is_set():
        await source.capture_frame(_tone(t))
        t += FRAME_SAMPLES


async def _loudest_heard(room: rtc.Room, speaker: str, frames: int) -> int:
    """Peak amplitude of `frames` audio frames received from `speaker`'s microphone."""
    track = await eventually_async(
        lambda: next(
            (
                pub.track
                for p in room.remote_participants.values()
                if p.identity == speaker
                for pub in p.track_publications.values()
                if pub.track is not None and pub.kind == rtc.TrackKind.KIND_AUDIO
            ),
            None,
        ),
        timeout=20,
        what=f"subscribed to {speaker}'s audio",
    )
    stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
    peak = 0
    received = 0
    try:
        async for event in stream:
            data = np.frombuffer(event.frame.data, dtype=np.int16)
            peak = max(peak, int(np.abs(data).max(initial=0)))
            received += 1
            if received >= frames:
                break
    finally:
        await stream.aclose()
    return peak


async def test_fleet_config_boots_and_both_nodes_register_in_the_shared_redis(fleet: Fleet) -> None:
    # LiveKit keeps its node registry in the `nodes` hash: two nodes, one Redis.
    eventually(lambda: int(fleet.redis.cli("HLEN", "nodes")) == 2, timeout=15, what="two nodes in Redis")


async def test_participants_on_different_nodes_hear_each_other(fleet: Fleet) -> None:
    room_name = "space-fleet-test"
    async with lkapi.LiveKitAPI(fleet.a.http_url, fleet_nodes.API_KEY, fleet_nodes.API_SECRET) as client:
        await client.room.create_room(lkapi.CreateRoomRequest(name=room_name, empty_timeout=60))

    alice, bob = rtc.Room(), rtc.Room()
    stop = asyncio.Event()
    speakers: list[asyncio.Task[None]] = []
    try:
        await alice.connect(fleet.a.ws_url, _token(room_name, "alice"))
        await bob.connect(fleet.b.ws_url, _token(room_name, "bob"))
        for room in (alice, bob):
            source = rtc.AudioSource(SAMPLE_RATE, 1)
            track = rtc.LocalAudioTrack.create_audio_track("mic", source)
            await room.local_participant.publish_track(
                track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
            )
            speakers.append(asyncio.create_task(_speak(source, stop)))

        # Both nodes answer for the same room: the API of node B sees alice, who joined through A.
        async with lkapi.LiveKitAPI(fleet.b.http_url, fleet_nodes.API_KEY, fleet_nodes.API_SECRET) as client:

            async def both_listed() -> bool:
                listed = await client.room.list_participants(lkapi.ListParticipantsRequest(room=room_name))
                return {p.identity for p in listed.participants} == {"alice", "bob"}

            await eventually_async(both_listed, timeout=15, what="node B lists both participants")

        # A 0.5-amplitude tone arrives (Opus-coded) well above silence in both directions.
        bob_hears, alice_hears = await asyncio.wait_for(
            asyncio.gather(_loudest_heard(bob, "alice", 100), _loudest_heard(alice, "bob", 100)), timeout=60
        )
        assert bob_hears > 3000, f"bob (node B) heard alice (node A) at peak {bob_hears}"
        assert alice_hears > 3000, f"alice (node A) heard bob (node B) at peak {alice_hears}"
    finally:
        stop.set()
        await asyncio.gather(*speakers, return_exceptions=True)
        await alice.disconnect()
        await bob.disconnect()
