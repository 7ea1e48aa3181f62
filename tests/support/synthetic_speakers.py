"""Synthetic Space participants for live tests and benchmarks: espeak-ng speakers and listeners.

A `SyntheticSpeaker` joins with a speaker token, publishes a microphone track and keeps it fed in
real time (silence between utterances, as a browser microphone would), so a test can make it
`say()` a clip and know the monotonic time the first sample left. It can also publish, mute and
unpublish a synthetic camera track. Nothing here decides anything: it only produces input.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from livekit import api, rtc

from contract import names

SAMPLE_RATE = 48000
# Frames are pushed every 20 ms on a monotonic schedule; the SDK source buffers at most this much,
# so "the first sample left" is accurate to about one frame.
FRAME_MS = 20
SOURCE_QUEUE_MS = 100
VIDEO_SIZE = (320, 240)
# A solid-colour camera keeps sending at this rate, so a subscriber that arrives later (the
# composer subscribes to a camera only when it takes the big tile) gets pictures at once. A frame of
# one colour is one packet, and livekit-server v1.13.5 judges a simulcast layer above the lowest
# stopped after any 500 ms with fewer than 5 of its packets, and available again only after 10 s
# (20 such periods in a row) with at least 5 (pkg/sfu/streamtracker, its packet tracker's defaults).
# At 10 fps a loaded runner's late frames kept the top layers "stopped" for a minute while the
# sender sent them all: 20 fps, the lowest layer of a browser's camera, leaves room for jitter.
CAMERA_FPS = 20


def espeak_clip(text: str, voice: str, *, sample_rate: int = SAMPLE_RATE, gain_db: float = 0.0) -> np.ndarray:
    """Speech from espeak-ng, resampled by sox to mono int16 at `sample_rate`."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is required (make system-deps)")
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True, capture_output=True)
        subprocess.run(
            ["sox", str(raw), "-r", str(sample_rate), "-c", "1", "-b", "16", str(out), "gain", str(gain_db)],
            check=True,
            capture_output=True,
        )
        return read_wav(out)


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: need mono 16-bit PCM")
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy()


def join_token(api_key: str, api_secret: str, *, room: str, identity: str, role: str) -> str:
    """A token shaped like the control plane's: listeners may not publish media."""
    can_publish = role != "listener"
    return (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_attributes({names.ROLE_ATTRIBUTE: role})
        .with_grants(
            api.VideoGrants(
                room_join=True, room=room, can_publish=can_publish, can_subscribe=True, can_publish_data=True
            )
        )
        .to_jwt()
    )


def stage_in(room: rtc.Room) -> dict[str, Any] | None:
    """The stage as a client sees it: the agent participant's attribute with the highest seq."""
    best: dict[str, Any] | None = None
    for participant in room.remote_participants.values():
        if participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            continue
        raw = participant.attributes.get(names.STAGE_ATTRIBUTE)
        if not raw:
            continue
        stage = json.loads(raw)
        if best is None or stage["seq"] > best["seq"]:
            best = stage
    return best


@dataclass
class Utterance:
    pcm: np.ndarray
    started: asyncio.Future[float]
    done: asyncio.Future[float]
    pos: int = 0


@dataclass
class SyntheticSpeaker:
    identity: str
    room: rtc.Room
    source: rtc.AudioSource
    _queue: list[Utterance] = field(default_factory=list)
    _pump: asyncio.Task[None] | None = None
    camera: rtc.LocalVideoTrack | None = None
    camera_sid: str | None = None
    _camera_pump: asyncio.Task[None] | None = None
    # What the camera pump sends, in turn: its colour, or noise (`set_camera_noise`).
    _camera_frames: list[rtc.VideoFrame] = field(default_factory=list)
    _camera_colour: list[rtc.VideoFrame] = field(default_factory=list)
    screen_sid: str | None = None
    _screen_pump: asyncio.Task[None] | None = None
    mic_sid: str | None = None
    # Set when someone (in these tests: the agent) subscribes to the microphone.
    mic_subscribed: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def join(cls, url: str, token: str, identity: str) -> SyntheticSpeaker:
        room = rtc.Room()
        subscribed = asyncio.Event()
        room.on("local_track_subscribed", lambda track: subscribed.set())
        await room.connect(url, token, rtc.RoomOptions(auto_subscribe=False))
        source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=SOURCE_QUEUE_MS)
        track = rtc.LocalAudioTrack.create_audio_track(f"{identity}-mic", source)
        publication = await room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        speaker = cls(
            identity=identity, room=room, source=source, mic_sid=publication.sid, mic_subscribed=subscribed
        )
        speaker._pump = asyncio.create_task(speaker._run(), name=f"pump-{identity}")
        return speaker

    def say(self, pcm: np.ndarray) -> Utterance:
        """Queue a clip; `started` resolves with the monotonic time its first frame was captured."""
        loop = asyncio.get_running_loop()
        utterance = Utterance(pcm=pcm, started=loop.create_future(), done=loop.create_future())
        self._queue.append(utterance)
        return utterance

    async def _run(self) -> None:
        step = SAMPLE_RATE * FRAME_MS // 1000
        silence = np.zeros(step, dtype=np.int16)
        due = time.monotonic()
        while True:
            chunk = silence
            if self._queue:
                current = self._queue[0]
                if current.pos == 0 and not current.started.done():
                    current.started.set_result(time.monotonic())
                chunk = current.pcm[current.pos : current.pos + step]
                current.pos += step
                if len(chunk) < step:
                    chunk = np.concatenate([chunk, silence[: step - len(chunk)]])
                if current.pos >= len(current.pcm):
                    self._queue.pop(0)
                    current.done.set_result(time.monotonic())
            frame = rtc.AudioFrame(chunk.tobytes(), SAMPLE_RATE, 1, step)
            await self.source.capture_frame(frame)
            due += FRAME_MS / 1000
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.5:
                due = time.monotonic()  # fell far behind (loaded machine): do not burst to catch up

    async def publish_camera(
        self,
        colour: tuple[int, int, int] | None = None,
        *,
        size: tuple[int, int] = VIDEO_SIZE,
        simulcast: bool = False,
    ) -> None:
        """Publish a camera: one black frame, or `colour` on every frame at CAMERA_FPS; with
        `simulcast`, in layers as a browser publishes one (the SDK makes them from `size`)."""
        width, height = size
        source = rtc.VideoSource(width, height)
        self.camera = rtc.LocalVideoTrack.create_video_track(f"{self.identity}-cam", source)
        publication = await self.room.local_participant.publish_track(
            self.camera, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA, simulcast=simulcast)
        )
        self.camera_sid = publication.sid
        rgba = bytes((*colour, 255)) * (width * height) if colour else bytes(width * height * 4)
        frame = rtc.VideoFrame(width, height, rtc.VideoBufferType.RGBA, rgba)
        source.capture_frame(frame)
        if colour is not None:
            self._camera_frames = self._camera_colour = [frame]
            self._camera_pump = asyncio.create_task(
                self._pump_frames(source, lambda: self._camera_frames), name=f"camera-{self.identity}"
            )

    def set_camera_noise(self, noisy: bool) -> None:
        """A colour camera shows noise (every frame different, as a busy picture is: what makes a
        video segment as big as its bitrate allows) or its colour again."""
        assert self._camera_colour, "a colour camera"
        frame = self._camera_colour[0]
        if not noisy:
            self._camera_frames = self._camera_colour
            return
        rng = np.random.default_rng(7)
        self._camera_frames = [
            rtc.VideoFrame(
                frame.width,
                frame.height,
                rtc.VideoBufferType.RGBA,
                rng.integers(0, 256, (frame.height, frame.width, 4), dtype=np.uint8).tobytes(),
            )
            for _ in range(CAMERA_FPS)
        ]

    async def _pump_frames(self, source: rtc.VideoSource, frames: Callable[[], list[rtc.VideoFrame]]) -> None:
        """On a monotonic schedule, so a busy event loop does not lower the rate: frames up to 0.5 s
        late are sent at once, one after the other; further behind, the schedule starts again."""
        due = time.monotonic()
        n = 0
        while True:
            due += 1 / CAMERA_FPS
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.5:
                due = time.monotonic()  # fell far behind (loaded machine): do not burst to catch up
            now = frames()
            source.capture_frame(now[n % len(now)])
            n += 1

    def set_camera_muted(self, muted: bool) -> None:
        assert self.camera is not None
        if muted:
            self.camera.mute()
        else:
            self.camera.unmute()

    async def unpublish_camera(self) -> None:
        assert self.camera_sid is not None
        await self._stop_camera_pump()
        await self.room.local_participant.unpublish_track(self.camera_sid)
        self.camera, self.camera_sid = None, None

    async def publish_screen(self, colour: tuple[int, int, int]) -> str:
        """Publish a screen share (source SCREENSHARE) of `colour`; returns its sid. Raises what the
        SDK raises when the SFU refuses the publication."""
        width, height = VIDEO_SIZE
        source = rtc.VideoSource(width, height)
        track = rtc.LocalVideoTrack.create_video_track(f"{self.identity}-screen", source)
        publication = await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_SCREENSHARE)
        )
        self.screen_sid = publication.sid
        frame = rtc.VideoFrame(
            width, height, rtc.VideoBufferType.RGBA, bytes((*colour, 255)) * (width * height)
        )
        source.capture_frame(frame)
        self._screen_pump = asyncio.create_task(
            self._pump_frames(source, lambda: [frame]), name=f"screen-{self.identity}"
        )
        return publication.sid

    async def unpublish_screen(self) -> None:
        assert self.screen_sid is not None
        await self._stop_screen_pump()
        await self.room.local_participant.unpublish_track(self.screen_sid)
        self.screen_sid = None

    async def _stop_screen_pump(self) -> None:
        if self._screen_pump is not None:
            self._screen_pump.cancel()
            await asyncio.gather(self._screen_pump, return_exceptions=True)
            self._screen_pump = None

    async def _stop_camera_pump(self) -> None:
        if self._camera_pump is not None:
            self._camera_pump.cancel()
            await asyncio.gather(self._camera_pump, return_exceptions=True)
            self._camera_pump = None

    async def aclose(self) -> None:
        await self._stop_camera_pump()
        await self._stop_screen_pump()
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        await self.room.disconnect()
