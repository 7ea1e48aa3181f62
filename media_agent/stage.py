"""The published stage: sequence numbers, the JSON clients render, and when to publish it.

Pure logic, no LiveKit import: the per-room class in worker.py feeds it engine states and room
facts and publishes what it returns. Kept apart so restart and rate-limit rules are unit-tested.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from contract import stage as contract_stage
from contract.room_metadata import parse_room_metadata
from contract.stage import Speaking, StageState, VideoSource, video_source

# Level-only changes (same people speaking, same spotlight, only the loudness moved) are published
# at most this often. Every attribute update fans out through the SFU to the whole audience, and a
# level meter needs no more than a few updates a second; every other change goes out at once.
LEVEL_ONLY_MIN_INTERVAL_S = 0.5


class SeqClock:
    """Hands out the stage `seq`: strictly increasing, also across agent restarts.

    The floor is the wall clock in milliseconds, so a new agent that knows nothing about its
    predecessor still starts above every seq the predecessor published (it could only have
    published fewer than 1000 per second, and did so in the past). `observe` lifts the floor to a
    seq seen in the room (the predecessor's attribute), which covers a clock that is behind.
    """

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self._wall_clock = wall_clock
        self._last = 0

    @property
    def last(self) -> int:
        return self._last

    def observe(self, seq: int) -> None:
        self._last = max(self._last, seq)

    def next(self) -> int:
        self._last = max(self._last + 1, int(self._wall_clock() * 1000))
        return self._last


def normalize(state: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's state dict (StageState.to_dict()) in contract order, levels within 0..1.

    The engine has already rounded the levels (EngineConfig.level_step), so noise in the last digits
    is neither a change nor bytes on the wire."""
    return {
        "spotlight": state.get("spotlight"),
        "video_spotlight": state.get("video_spotlight"),
        "video_source": state.get("video_source", "camera"),
        "speaking": [
            {"identity": s["identity"], "level": min(1.0, max(0.0, float(s["level"])))}
            for s in state.get("speaking", [])
        ],
        "video_on": list(state.get("video_on", [])),
        "pinned": state.get("pinned"),
    }


def structure(stage: Mapping[str, Any]) -> tuple[Any, ...]:
    """Everything but the levels: a change here is published immediately."""
    return (
        stage["spotlight"],
        stage["video_spotlight"],
        stage["video_source"],
        tuple(s["identity"] for s in stage["speaking"]),
        tuple(stage["video_on"]),
        stage["pinned"],
    )


@dataclass(frozen=True)
class Carried:
    """The previous agent's spotlight, held until this agent's engine has picked its own.

    A restarted agent starts with an empty engine; without this the big tile would go blank until
    someone spoke again.
    """

    spotlight: str | None
    video_spotlight: str | None


def apply_carried(stage: dict[str, Any], carried: Carried | None, present: set[str]) -> dict[str, Any]:
    if carried is None or stage["spotlight"] is not None or stage["pinned"] is not None:
        return stage
    out = dict(stage)
    if carried.spotlight in present:
        out["spotlight"] = carried.spotlight
    if out["video_spotlight"] is None and carried.video_spotlight in out["video_on"]:
        out["video_spotlight"] = carried.video_spotlight
    return out


def encode(stage: Mapping[str, Any], seq: int, t: float) -> str:
    """The published JSON, built through the contract type so it always matches the schema."""
    return StageState(
        seq=seq,
        spotlight=stage["spotlight"],
        video_spotlight=stage["video_spotlight"],
        video_source=video_source(stage["video_source"]),
        speaking=tuple(Speaking(identity=s["identity"], level=s["level"]) for s in stage["speaking"]),
        video_on=tuple(stage["video_on"]),
        pinned=stage["pinned"],
        t=round(t, 3),
    ).to_json()


def parse_stage(value: str | None) -> StageState | None:
    """A stage attribute as published by an agent (ours or a predecessor), or None if unusable."""
    return contract_stage.parse_stage(value)


def parse_pin(metadata: str | None) -> str | None:
    """The host pin from room metadata written by the control plane; anything malformed is no pin."""
    return parse_room_metadata(metadata).pinned


def parse_pinned_source(metadata: str | None) -> VideoSource:
    """What of the pinned person the host pinned; older or malformed metadata means the camera."""
    return parse_room_metadata(metadata).pinned_source


class PublishGate:
    """Decides when a changed stage goes out: structure at once, levels at most every interval."""

    def __init__(self, level_interval: float = LEVEL_ONLY_MIN_INTERVAL_S) -> None:
        self._interval = level_interval
        self._published: dict[str, Any] | None = None
        self._published_at = float("-inf")

    def due(self, stage: Mapping[str, Any], now: float) -> bool:
        """Whether `stage` should be published at `now` (a monotonic time)."""
        if self._published is None:
            return True
        if stage == self._published:
            return False
        if structure(stage) != structure(self._published):
            return True
        return now - self._published_at >= self._interval

    def differs(self, stage: Mapping[str, Any]) -> bool:
        return self._published is None or dict(stage) != self._published

    def next_due(self, now: float) -> float:
        """When a held-back level-only change becomes due."""
        return max(now, self._published_at + self._interval)

    def mark(self, stage: Mapping[str, Any], now: float) -> None:
        self._published = dict(stage)
        self._published_at = now

    def forget(self) -> None:
        """What was published may not have arrived (a reconnect): the next stage goes out at once."""
        self._published = None
