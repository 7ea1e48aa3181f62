"""Replay a recorded or generated conversation through a spotlight engine, faster than real time.

    python -m media_agent.replay MANIFEST.json [--frame-ms 20]

Reads the replay manifest format (docs/spotlight.md, "The manifest") (per-speaker mono 16-bit WAVs, camera and
mute intervals, pins) and prints one JSON line for the initial state and one per change of what the
format shows (spotlight, video_spotlight, speaking identities, video_on, pinned). Level-only
changes of `speaking` are not printed.

Frames are pushed in the order the agent sees them: every speaker's frame starting at t, then
advance(t + frame). The printed `t` is that decision time. Events (camera, mute, pin) at time `at`
are applied before the first frame that starts at or after `at`, so they land at most one frame late.
"""

from __future__ import annotations

import argparse
import json
import sys
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from media_agent.spotlight import EngineConfig, SpotlightEngine, StageState


class Engine(Protocol):
    """What the replay needs: the spotlight engine, or any baseline fed the same way."""

    def push_audio(
        self, identity: str, t: float, pcm_int16: np.ndarray | bytes, sample_rate: int
    ) -> None: ...
    def set_muted(self, identity: str, t: float, muted: bool) -> None: ...
    def set_video(self, identity: str, t: float, on: bool) -> None: ...
    def set_pin(self, identity: str | None, t: float) -> None: ...
    def advance(self, t: float) -> StageState | None: ...

    @property
    def state(self) -> StageState: ...


class ManifestError(ValueError):
    """The manifest or one of its WAVs does not follow the format."""


@dataclass(frozen=True)
class Track:
    identity: str
    audio: np.ndarray  # int16, mono
    video: tuple[tuple[float, float], ...] = ()
    muted: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Manifest:
    sample_rate: int
    tracks: tuple[Track, ...]
    pins: tuple[tuple[float, str | None], ...] = ()
    truth: tuple[dict[str, Any], ...] = ()
    transients: tuple[dict[str, Any], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def duration(self) -> float:
        return max((len(track.audio) for track in self.tracks), default=0) / self.sample_rate


def read_wav(path: Path, sample_rate: int) -> np.ndarray:
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise ManifestError(f"{path}: must be mono 16-bit PCM")
            if wav.getframerate() != sample_rate:
                raise ManifestError(
                    f"{path}: rate {wav.getframerate()} differs from the manifest's {sample_rate}"
                )
            return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)
    except (OSError, wave.Error, EOFError) as error:
        raise ManifestError(f"{path}: {error}") from error


def _intervals(value: Any, what: str) -> tuple[tuple[float, float], ...]:
    try:
        intervals = tuple((float(start), float(end)) for start, end in value or ())
    except (TypeError, ValueError) as error:
        raise ManifestError(f"{what}: expected [[start, end], ...]") from error
    if any(end < start for start, end in intervals):
        raise ManifestError(f"{what}: an interval ends before it starts")
    return intervals


def load_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
        sample_rate = int(raw["sample_rate"])
        speakers = raw["speakers"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ManifestError(f"{path}: not a spotlight manifest ({error})") from error
    tracks = []
    try:
        for speaker in speakers:
            identity = str(speaker["identity"])
            tracks.append(
                Track(
                    identity=identity,
                    audio=read_wav(path.parent / speaker["audio"], sample_rate),
                    video=_intervals(speaker.get("video"), f"{identity}.video"),
                    muted=_intervals(speaker.get("muted"), f"{identity}.muted"),
                )
            )
        # Sorted by time only (stable): an unpin (None) and a pin at the same instant keep their order.
        pins = tuple(
            sorted(((float(pin["at"]), pin["identity"]) for pin in raw.get("pins", ())), key=lambda p: p[0])
        )
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise ManifestError(f"{path}: malformed speaker or pin entry ({error!r})") from error
    return Manifest(
        sample_rate=sample_rate,
        tracks=tuple(tracks),
        pins=pins,
        truth=tuple(raw.get("truth", ())),
        transients=tuple(raw.get("transients", ())),
        raw=raw,
    )


def _events(manifest: Manifest) -> list[tuple[float, int, str, Any]]:
    """(time, order, kind, args): at equal times, offs before ons so a handover never shows both."""
    events: list[tuple[float, int, str, Any]] = []
    for track in manifest.tracks:
        for kind, intervals in (("video", track.video), ("mute", track.muted)):
            for start, end in intervals:
                events.append((start, 1, kind, (track.identity, True)))
                events.append((end, 0, kind, (track.identity, False)))
    events += [(at, 2, "pin", identity) for at, identity in manifest.pins]
    return sorted(events, key=lambda event: (event[0], event[1]))


def replay(manifest: Manifest, engine: Engine, frame_s: float = 0.02) -> Iterator[tuple[float, StageState]]:
    """Yields (decision time, state): the initial state at t=0, then every change."""
    rate = manifest.sample_rate
    frame = round(rate * frame_s)
    events = _events(manifest)
    next_event = 0
    yield 0.0, engine.state
    total = max((len(track.audio) for track in manifest.tracks), default=0)
    for start in range(0, total, frame):
        t = start / rate
        while next_event < len(events) and events[next_event][0] <= t + 1e-9:
            _, _, kind, args = events[next_event]
            next_event += 1
            if kind == "video":
                engine.set_video(args[0], t, args[1])
            elif kind == "mute":
                engine.set_muted(args[0], t, args[1])
            else:
                engine.set_pin(args, t)
        for track in manifest.tracks:
            chunk = track.audio[start : start + frame]
            if len(chunk) < frame:
                # A missing tail is silence (the format says so); keep every track's clock running.
                chunk = np.concatenate((chunk, np.zeros(frame - len(chunk), dtype=np.int16)))
            engine.push_audio(track.identity, t, chunk, rate)
        state = engine.advance(t + frame / rate)
        if state is not None:
            yield round(t + frame / rate, 3), state


def visible(state: StageState) -> dict[str, Any]:
    """What the replay output shows of a state (speaking without levels)."""
    return {
        "spotlight": state.spotlight,
        "video_spotlight": state.video_spotlight,
        "speaking": [identity for identity, _ in state.speaking],
        "video_on": list(state.video_on),
        "pinned": state.pinned,
    }


def replay_lines(manifest: Manifest, engine: Engine, frame_s: float = 0.02) -> Iterator[dict[str, Any]]:
    last: dict[str, Any] | None = None
    for t, state in replay(manifest, engine, frame_s):
        shown = visible(state)
        if shown != last:
            last = shown
            yield {"t": t, **shown}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m media_agent.replay", description=__doc__.split("\n")[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--frame-ms", type=float, default=20.0, help="frame length pushed per speaker")
    args = parser.parse_args(argv)
    try:
        manifest = load_manifest(args.manifest)
    except ManifestError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for line in replay_lines(manifest, SpotlightEngine(EngineConfig()), args.frame_ms / 1000.0):
        sys.stdout.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
