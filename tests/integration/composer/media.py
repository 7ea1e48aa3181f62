"""Synthetic input for a Broadcast and a PyAV (FFmpeg) reading of what it wrote."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import av
import numpy as np
from av.container import InputContainer

from composer.hls import Broadcast, BroadcastConfig, parse_playlist
from composer.hls.playlist import MediaPlaylist

TONE_HZ = 440.0
# One solid colour per second, so each 1 s segment shows one colour.
COLOURS = [(220, 30, 30), (30, 200, 40), (40, 60, 230), (230, 220, 40), (200, 40, 200)]


def colour_at(second: int) -> tuple[int, int, int]:
    return COLOURS[second % len(COLOURS)]


def tone(start_sample: int, count: int, rate: int, hz: float = TONE_HZ) -> np.ndarray:
    t = np.arange(start_sample, start_sample + count) / rate
    return (np.sin(2 * np.pi * hz * t) * 12000).astype(np.int16)


@dataclass
class Feeder:
    """Pushes colour frames and a tone in media-time order, as the composer agent does."""

    config: BroadcastConfig
    frames: int = 0
    samples: int = 0
    _rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(7))

    def feed(self, broadcast: Broadcast, seconds: float) -> None:
        cfg = self.config
        total_frames = self.frames + round(seconds * cfg.fps)
        while self.frames < total_frames:
            if cfg.video:
                frame = np.empty((cfg.height, cfg.width, 3), dtype=np.uint8)
                frame[:] = colour_at(self.frames // cfg.fps)
                broadcast.push_video(frame)
            self.frames += 1
            # Audio arrives in uneven chunks (10 ms network frames, jittered), like a live mix.
            due = self.frames * cfg.sample_rate // cfg.fps
            while self.samples < due:
                n = min(due - self.samples, int(self._rng.integers(240, 960)))
                broadcast.push_audio(tone(self.samples, n, cfg.sample_rate))
                self.samples += n


@dataclass(frozen=True)
class SegmentReading:
    streams: tuple[str, ...]  # "h264", "aac", ...
    width: int | None
    height: int | None
    video_pts: tuple[int, ...]  # 90 kHz
    first_packet_is_keyframe: bool
    audio_pts: tuple[int, ...]  # 90 kHz
    audio_rate: int | None
    audio_channels: int | None
    mean_rgb: tuple[float, float, float] | None  # of the first decoded frame
    audio: np.ndarray  # decoded mono float samples

    @property
    def video_duration_s(self) -> float:
        return len(self.video_pts) / 30 if self.video_pts else 0.0

    def tone_hz(self) -> float:
        spectrum = np.abs(np.fft.rfft(self.audio * np.hanning(len(self.audio))))
        return float(np.argmax(spectrum) * (self.audio_rate or 1) / len(self.audio))


def read_segment(data: bytes) -> SegmentReading:
    """Demux and decode a whole MPEG-TS segment with FFmpeg; raises if it does not decode."""
    container: InputContainer
    with av.open(io.BytesIO(data), "r", format="mpegts") as container:
        names = tuple(s.codec_context.name for s in container.streams)
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        video_pts: list[int] = []
        audio_pts: list[int] = []
        first_key: bool | None = None
        mean_rgb: tuple[float, float, float] | None = None
        pcm: list[np.ndarray] = []
        for packet in container.demux():
            if packet.size == 0:
                continue
            if video is not None and packet.stream is video:
                if first_key is None:
                    first_key = packet.is_keyframe
                assert packet.pts is not None
                video_pts.append(packet.pts)
                for frame in packet.decode():
                    if mean_rgb is None and isinstance(frame, av.VideoFrame):
                        rgb = frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
                        mean_rgb = (float(rgb[0]), float(rgb[1]), float(rgb[2]))
            elif audio is not None and packet.stream is audio:
                assert packet.pts is not None
                audio_pts.append(packet.pts)
                pcm += [f.to_ndarray().reshape(-1) for f in packet.decode() if isinstance(f, av.AudioFrame)]
        return SegmentReading(
            streams=names,
            width=video.codec_context.width if video else None,
            height=video.codec_context.height if video else None,
            video_pts=tuple(video_pts),
            first_packet_is_keyframe=bool(first_key),
            audio_pts=tuple(audio_pts),
            audio_rate=audio.codec_context.sample_rate if audio else None,
            audio_channels=audio.codec_context.channels if audio else None,
            mean_rgb=mean_rgb,
            audio=np.concatenate(pcm) if pcm else np.zeros(0, dtype=np.float32),
        )


def read_playlist(text: str | bytes) -> MediaPlaylist:
    return parse_playlist(text.decode() if isinstance(text, bytes) else text)


def near(colour: tuple[float, float, float], expected: tuple[int, int, int], tolerance: float = 12) -> bool:
    """Solid colours survive YUV 4:2:0 and H.264 within a few levels."""
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


def corrupt_packets(playlist: str) -> list[tuple[str, int | None]]:
    """The packets FFmpeg's HLS demuxer flags as corrupt reading a whole playlist as one stream
    (a continuity counter that jumps at a segment boundary is the usual cause)."""
    flagged: list[tuple[str, int | None]] = []
    container: InputContainer
    with av.open(playlist, "r", format="hls") as container:
        for packet in container.demux():
            if packet.size and packet.is_corrupt:
                flagged.append((packet.stream.type, packet.dts))
    return flagged
