"""What both live benchmarks need: a server, the agent worker, rooms, and real-time playback."""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from livekit import api, rtc

from contract import names
from contract.room_metadata import RoomMetadata
from devstack import livekit
from tests.support.agent_process import AgentProcess, start_agent

OUT = Path(__file__).resolve().parents[1] / "out" / "agent"
# Playback frame: every track gets one 20 ms frame per tick, all tracks on one schedule.
TICK_S = 0.02
SOURCE_QUEUE_MS = 40


def sent_time(sent: list[float], audio_t: float) -> float:
    """When the audio at `audio_t` (seconds into the playback) was handed to the SDK."""
    return sent[min(max(0, int(audio_t / TICK_S)), len(sent) - 1)]


@dataclass
class Stack:
    server: livekit.LiveKitServer
    agent: AgentProcess

    def api(self) -> api.LiveKitAPI:
        return api.LiveKitAPI(self.server.http_url, self.server.api_key, self.server.api_secret)


@contextmanager
def stack(*, agent_env: dict[str, str] | None = None, log: IO[str] | None = None) -> Iterator[Stack]:
    server = livekit.start_local(api_key=names.DEV_API_KEY, api_secret=names.DEV_API_SECRET, log=log)
    try:
        agent = start_agent(
            ws_url=server.ws_url, api_key=server.api_key, api_secret=server.api_secret, env=agent_env, log=log
        )
        try:
            yield Stack(server=server, agent=agent)
        finally:
            agent.kill()
    finally:
        server.stop()


async def open_room(lkapi: api.LiveKitAPI, room: str, *, dispatch: bool = True) -> None:
    metadata = RoomMetadata(space_id=room, video="speakers", pinned=None, title=room).to_json()
    await lkapi.room.create_room(api.CreateRoomRequest(name=room, empty_timeout=120, metadata=metadata))
    if dispatch:
        await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=names.AGENT_NAME, room=room)
        )


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy(), w.getframerate()


@dataclass
class Track:
    """One microphone being played: a source, its audio, and (optionally) when to mute it."""

    source: rtc.AudioSource
    publication: rtc.LocalTrackPublication
    pcm: np.ndarray
    sample_rate: int
    muted: list[tuple[float, float]]
    loop: bool = False
    is_muted: bool = False


async def publish_mic(
    room: rtc.Room,
    identity: str,
    pcm: np.ndarray,
    sample_rate: int,
    *,
    muted: list[tuple[float, float]] | None = None,
    loop: bool = False,
) -> Track:
    # A short source queue keeps "handed to the SDK" close to "sent".
    source = rtc.AudioSource(sample_rate, 1, queue_size_ms=SOURCE_QUEUE_MS)
    track = rtc.LocalAudioTrack.create_audio_track(f"{identity}-mic", source)
    publication = await room.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    )
    return Track(
        source=source, publication=publication, pcm=pcm, sample_rate=sample_rate, muted=muted or [], loop=loop
    )


async def play(tracks: list[Track], *, seconds: float, sent: list[float] | None = None) -> float:
    """Feed every track in real time on one schedule; returns the monotonic time of sample 0.

    `sent` collects, per 20 ms tick, the monotonic time its frames were handed to the SDK. A
    loaded machine can fall behind the schedule, and the SDK's source plays out at real time, so
    it never catches up: latencies must be measured from these times, not from the schedule.
    """
    sent = sent if sent is not None else []
    t0 = time.monotonic()
    tick = 0
    while tick * TICK_S < seconds:
        at = tick * TICK_S
        captures = []
        for track in tracks:
            step = int(track.sample_rate * TICK_S)
            start = int(at * track.sample_rate)
            if track.loop:
                start %= max(1, len(track.pcm) - step)
            chunk = track.pcm[start : start + step]
            if len(chunk) < step:
                chunk = np.concatenate([chunk, np.zeros(step - len(chunk), dtype=np.int16)])
            mute = any(a <= at < b for a, b in track.muted)
            if mute != track.is_muted:
                track.is_muted = mute
                local = track.publication.track
                assert local is not None
                local.mute() if mute else local.unmute()
            frame = rtc.AudioFrame(chunk.tobytes(), track.sample_rate, 1, step)
            captures.append(track.source.capture_frame(frame))
        await asyncio.gather(*captures)
        sent.append(time.monotonic())
        tick += 1
        delay = t0 + tick * TICK_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    return t0
